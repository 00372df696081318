-- Retention: the pruner (in each relay process) deletes published outbox rows and old inbox entries.

-- Inbox entries are pruned per consumer group by age.
CREATE INDEX inbox_handled_at ON inbox (consumer, handled_at);

-- Rows deleted so far, per table, for /metrics (the pruner runs in the relay process, /metrics in the API's).
CREATE TABLE retention (
    table_name     text PRIMARY KEY,
    pruned         bigint NOT NULL DEFAULT 0,
    last_pruned_at timestamptz
);
INSERT INTO retention (table_name) VALUES ('outbox'), ('inbox');
