"""The load-test harness: real order lifecycles against the real HTTP service."""
