"""Two webhook senders that both believe they may send (a node that lost its lease without
knowing yet, a paused one resumed) never both claim one outbox entry."""

from __future__ import annotations

from delivery.persistence import outbox
from delivery.persistence.db import Database, database_path
from delivery.persistence.outbox import WebhookOutbox


def test_an_entry_is_claimed_by_one_sender_and_due_again_only_after_the_claim(tmp_path, storage):
    url = storage or str(database_path(tmp_path))
    first, second = Database(url), Database(url)
    try:
        with first.transaction() as conn:
            outbox.enqueue(conn, [(f"n{i}", "{}", 1.0) for i in range(3)])
        a, b = WebhookOutbox(first), WebhookOutbox(second)
        seen_by_a, seen_by_b = a.due(10.0, 10), b.due(10.0, 10)
        assert len(seen_by_a) == len(seen_by_b) == 3  # both found them due
        claimed_a = a.claim(seen_by_a, now=10.0, until=25.0)
        claimed_b = b.claim(seen_by_b, now=10.0, until=25.0)
        assert len(claimed_a) == 3 and claimed_b == []
        assert b.due(20.0, 10) == []  # claimed: not due for anyone until the claim ends
        a.sent("n0", 1, "2026-01-01T00:00:00Z")
        assert [e.notice_id for e in b.due(30.0, 10)] == ["n1", "n2"]  # a died holding these
        b.sent("n0", 2, "2026-01-01T00:00:01Z")  # a late second delivery changes nothing
        assert a.stats() == {"pending": 2, "failed": 0, "sent": 1}
    finally:
        first.conn.close()
        second.conn.close()
