-- The service's tables on PostgreSQL: the same tables, columns and keys as the owner modules'
-- SQLite SCHEMA (tests/integration/test_schema.py compares them), in PostgreSQL's types.
-- Tables that SQLite orders by its implicit rowid carry an explicit one here.

CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    order_id TEXT NOT NULL, version BIGINT NOT NULL,
    customer_id TEXT NOT NULL, store_id TEXT NOT NULL,
    kind TEXT NOT NULL, event_id TEXT NOT NULL UNIQUE, at TEXT NOT NULL, body BYTEA NOT NULL,
    UNIQUE (order_id, version));
CREATE INDEX events_by_store ON events (store_id, seq);
CREATE INDEX events_by_customer ON events (customer_id, kind, at);

CREATE TABLE checkpoints (name TEXT PRIMARY KEY, seq BIGINT NOT NULL);

CREATE TABLE customers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL, lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
CREATE TABLE stores (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_phone TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL, lon DOUBLE PRECISION NOT NULL,
    token_hash TEXT NOT NULL UNIQUE, menu BYTEA NOT NULL, created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'approved');
CREATE TABLE riders (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL, lat DOUBLE PRECISION,
    lon DOUBLE PRECISION, token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
    located_at TEXT, status TEXT NOT NULL DEFAULT 'approved');
CREATE INDEX stores_by_place ON stores (lat, lon, id, name);

CREATE TABLE order_views (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, store_id TEXT NOT NULL, status TEXT NOT NULL,
    payment_status TEXT NOT NULL, rider_id TEXT, lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    version BIGINT NOT NULL, state BYTEA NOT NULL, view TEXT NOT NULL);
CREATE INDEX order_views_by_customer ON order_views (customer_id, created_at);
CREATE INDEX order_views_by_store ON order_views (store_id, status, created_at);
CREATE INDEX order_views_by_status ON order_views (status, payment_status);

CREATE TABLE notifications (
    seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    recipient_kind TEXT NOT NULL, recipient_id TEXT NOT NULL, order_id TEXT NOT NULL,
    kind TEXT NOT NULL, text TEXT NOT NULL, at TEXT NOT NULL, channel TEXT NOT NULL,
    delivered BIGINT NOT NULL DEFAULT 0);
CREATE INDEX notifications_by_recipient ON notifications (recipient_kind, recipient_id, seq);

CREATE TABLE webhook_outbox (
    notice_id TEXT NOT NULL, channel TEXT NOT NULL, payload TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0, next_at DOUBLE PRECISION NOT NULL, delivered_at TEXT,
    last_error TEXT, rowid BIGSERIAL UNIQUE, PRIMARY KEY (notice_id, channel));
CREATE INDEX webhook_outbox_due ON webhook_outbox (delivered_at, next_at);

CREATE TABLE store_inbox (
    store_id TEXT NOT NULL, order_id TEXT NOT NULL, kind TEXT NOT NULL, seq BIGINT NOT NULL,
    received_at TEXT NOT NULL, rowid BIGSERIAL UNIQUE, PRIMARY KEY (store_id, order_id, kind));

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL, key TEXT NOT NULL, body_hash TEXT NOT NULL, entity_id TEXT NOT NULL,
    status BIGINT NOT NULL, response TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (scope, key));
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

CREATE TABLE provider_ledger (
    order_id TEXT NOT NULL, kind TEXT NOT NULL, reference TEXT NOT NULL, amount BIGINT NOT NULL,
    at TEXT NOT NULL, rowid BIGSERIAL UNIQUE, PRIMARY KEY (order_id, kind));

CREATE TABLE storage_probe (id BIGINT PRIMARY KEY CHECK (id = 1), at DOUBLE PRECISION NOT NULL,
                            pad BYTEA NOT NULL);
