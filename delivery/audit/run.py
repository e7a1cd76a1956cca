"""One audit of a data directory: read everything once, run every check, summarise."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import clock
from ..payment.simulated import SimulatedProvider
from ..persistence import checkpoints
from ..persistence.db import FILE_NAME, Database, is_postgres
from ..persistence.inboxes import StoreInboxes
from ..persistence.journal import Journal
from ..persistence.ledger import LedgerRow, ProviderLedger
from ..persistence.notices import Notices
from ..persistence.readmodel import ReadModel
from . import checks
from .history import History, Violation

CHECKS = ("charges", "refunds", "inbox", "notices", "stuck", "read_model", "acknowledged")


@dataclass
class AuditResult:
    """What the audit found and what it looked at."""

    violations: list[Violation] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        by_check = {name: 0 for name in CHECKS}
        for v in self.violations:
            by_check[v.check] += 1
        return {"ok": self.ok, "violations": [str(v) for v in self.violations],
                "violations_by_check": by_check, "counts": self.counts, "skipped": self.skipped}


def audit_data_dir(data_dir: str | Path, grace_s: float = 0.0,
                   seen: dict[str, set[str]] | None = None) -> AuditResult:
    """Every check over the service's database and the simulated provider's ledger beside it;
    with `seen` (order id -> statuses clients were acknowledged) also that none was lost.
    `data_dir` may also be a postgresql:// URL: then the simulated provider's books are a table
    of that database."""
    if is_postgres(str(data_dir)):
        db = Database(str(data_dir), durable=False)
        try:
            # Books kept by another provider are not here: an empty table is not evidence.
            return audit(db, ProviderLedger(db).rows() or None, clock.ago(grace_s), seen)
        finally:
            db.close()
    db_path = Path(data_dir) / FILE_NAME
    if not db_path.exists():
        raise FileNotFoundError(f"no database at {db_path}")
    db = Database(db_path, durable=False)
    try:
        return audit(db, _ledger(db_path), clock.ago(grace_s), seen)
    finally:
        db.close()


def _ledger(db_path: Path) -> list[LedgerRow] | None:
    path = db_path.with_name(SimulatedProvider.FILE_NAME)
    if not path.exists():
        return None  # another provider keeps its books elsewhere
    ledger_db = Database(path, durable=False)
    try:
        return ProviderLedger(ledger_db).rows()
    finally:
        ledger_db.close()


def audit(db: Database, ledger: list[LedgerRow] | None, settled_before: str,
          seen: dict[str, set[str]] | None = None) -> AuditResult:
    """Run the checks on one consistent reading of the journal; orders with events after
    `settled_before` may have work in flight and are left out."""
    # One snapshot of a database that a running service keeps writing.
    db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if is_postgres(db.path) else "BEGIN")
    try:
        return _audit(db, ledger, settled_before, seen)
    finally:
        db.execute("COMMIT")


def _audit(db: Database, ledger: list[LedgerRow] | None, settled_before: str,
           seen: dict[str, set[str]] | None) -> AuditResult:
    journal = Journal(db)
    history = History.read(journal, settled_before)
    inbox, notices = StoreInboxes(db).rows(), Notices(db).rows()
    result = AuditResult(counts={
        "orders": len(history.orders), "settled": len(history.settled),
        "in_flight": history.in_flight(), "events": journal.head(),
        "charges": sum(r.kind == "charge" for r in ledger or []),
        "refunds": sum(r.kind == "refund" for r in ledger or []),
        "inbox": len(inbox), "notices": len(notices)})
    if ledger is None:
        result.skipped += ["charges", "refunds"]
    else:
        result.violations += checks.charges(history, ledger) + checks.refunds(history, ledger)
    result.violations += checks.inbox(history, inbox) + checks.notices(history, notices)
    result.violations += checks.stuck(history, checkpoints.every(db))
    result.violations += checks.read_model(history, ReadModel(db).rows())
    if seen is None:
        result.skipped.append("acknowledged")
    else:
        result.violations += checks.acknowledged(history, seen)
        result.counts["acknowledged"] = len(seen)
    return result


def summary(result: AuditResult) -> str:
    """One line: what was audited and how many violations of each check."""
    c = result.as_dict()
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    checks_ = ", ".join(f"{k} {v}" for k, v in c["violations_by_check"].items()
                        if k not in result.skipped)
    skipped = f"; not checked: {', '.join(result.skipped)}" if result.skipped else ""
    verdict = "clean" if result.ok else f"{len(result.violations)} violation(s)"
    return f"audit {verdict}: {counts}; violations by check: {checks_}{skipped}"
