-- Index runs: the work an IndexRequested asks for, tracked here rather than inside the consumer's
-- poll loop, so a run of hours never holds a Kafka partition and any worker can resume it.
CREATE TABLE runs (
    id                uuid PRIMARY KEY,
    source_id         uuid        NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    request_id        text        NOT NULL,  -- CloudEvents id of the IndexRequested that asked for it
    state             text        NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    attempts          integer     NOT NULL DEFAULT 0,
    lease_owner       text,                  -- the worker running it ...
    lease_until       timestamptz,           -- ... until then; an expired lease is taken over
    not_before        timestamptz NOT NULL DEFAULT now(),  -- backoff after the catalog or the store failed
    revision          text,                  -- the dataset's commit the run reads (pinned at planning)
    index_name        text,                  -- the chunk store index it writes
    units             jsonb,                 -- the plan: every row group to read, in order
    columns           jsonb,
    splits            jsonb,
    split_rows        jsonb,                 -- {split: rows in it}
    sampling_strategy text,
    row_count         bigint,
    wanted_rows       bigint,
    units_done        integer     NOT NULL DEFAULT 0,  -- the checkpoint: units committed to the store
    rows_done         bigint      NOT NULL DEFAULT 0,
    chunks_done       bigint      NOT NULL DEFAULT 0,
    error             text,
    error_code        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz
);
-- At most one live run per source: a new request for a source with a live run is that run.
CREATE UNIQUE INDEX runs_live ON runs (source_id) WHERE state IN ('queued', 'running');
CREATE INDEX runs_claimable ON runs (not_before) WHERE state IN ('queued', 'running');

-- The index search reads: the last completed run's, swapped in with the run's completion.
ALTER TABLE sources ADD COLUMN index_name text;
ALTER TABLE sources ADD COLUMN revision text;
ALTER TABLE sources ADD COLUMN split_rows jsonb;
