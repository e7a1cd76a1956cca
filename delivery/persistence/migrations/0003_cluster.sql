-- The cluster's nodes (delivery/persistence/nodes.py): each node's row, its heartbeat and the
-- leases it holds. last_seen is seconds since the epoch by the database's clock.

CREATE TABLE cluster_nodes (
    name TEXT PRIMARY KEY, name_key BIGINT NOT NULL, pid BIGINT NOT NULL,
    started_at TEXT NOT NULL, last_seen DOUBLE PRECISION NOT NULL, leases TEXT NOT NULL DEFAULT '');
