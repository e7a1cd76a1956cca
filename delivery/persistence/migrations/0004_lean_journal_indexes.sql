-- The journal keeps only the indexes a query needs (delivery/persistence/journal.py SCHEMA):
-- event_id ("<order_id>:<version>") is unique through UNIQUE (order_id, version), and only
-- OrderPlaced events are counted by customer (the unpaid-orders limit).

ALTER TABLE events DROP CONSTRAINT IF EXISTS events_event_id_key;
DROP INDEX IF EXISTS events_by_customer;
CREATE INDEX events_placed_by_customer ON events (customer_id, at) WHERE kind = 'OrderPlaced';
