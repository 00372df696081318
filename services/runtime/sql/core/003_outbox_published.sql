-- The relay marks a published row by moving it out of `outbox` into `outbox_published`, without its payload.
--
-- Marking used to be an UPDATE of `published_at`: PostgreSQL writes a whole new row version for it (the
-- payload included) plus an entry in every index, and it was a third of a relay cycle. A DELETE only stamps
-- the old version, and the slim copy here costs one narrow insert. `outbox` now holds only what is still to
-- be published, so the relay's read needs no partial index and the writers' inserts maintain one index less.
-- Published rows stay here for `outbox_retention_seconds` (for looking at what went out; Kafka keeps the
-- payloads), then the pruner deletes them.
CREATE TABLE outbox_published (
    id           bigint      PRIMARY KEY,
    event_id     text        NOT NULL,
    topic        text        NOT NULL,
    key          text        NOT NULL,
    event_type   text        NOT NULL,
    created_at   timestamptz NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO outbox_published (id, event_id, topic, key, event_type, created_at, published_at)
SELECT id, event_id, topic, key, event_type, created_at, published_at FROM outbox WHERE published_at IS NOT NULL;
DELETE FROM outbox WHERE published_at IS NOT NULL;
DROP INDEX outbox_unpublished;
ALTER TABLE outbox DROP COLUMN published_at;

-- The pruner now works on the published rows; `outbox` itself is emptied by the relay (its size in /metrics
-- is the backlog's).
INSERT INTO retention (table_name, pruned, last_pruned_at)
SELECT 'outbox_published', pruned, last_pruned_at FROM retention WHERE table_name = 'outbox';
UPDATE retention SET pruned = 0, last_pruned_at = NULL WHERE table_name = 'outbox';
