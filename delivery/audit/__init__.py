"""The audit: reconcile the journal, the provider's ledger, the store inboxes, the notices and
the read model after a run, Jepsen-checker style; every finding is a `Violation`."""
