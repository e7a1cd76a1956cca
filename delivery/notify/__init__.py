"""Notification channels: where a notice goes besides the read model."""
