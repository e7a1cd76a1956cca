-- AlimTalk's delivery results beside each outbox row (SQLite: outbox.migrate adds the same).
ALTER TABLE webhook_outbox
    ADD COLUMN outcome TEXT,
    ADD COLUMN provider_ref TEXT,
    ADD COLUMN detail TEXT,
    ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
