-- A data source: one Hub dataset (and config) being indexed, in Nia's record shape.
CREATE TABLE sources (
    id                uuid PRIMARY KEY,
    dataset           text        NOT NULL,  -- "owner/name" on the catalog
    config            text,
    status            text        NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    error             text,
    error_code        text,
    description       text,
    license           text,
    splits            jsonb       NOT NULL DEFAULT '[]',
    columns           jsonb       NOT NULL DEFAULT '[]',
    row_count         bigint      NOT NULL DEFAULT 0,
    indexed_row_count bigint      NOT NULL DEFAULT 0,
    chunk_count       bigint      NOT NULL DEFAULT 0,
    sampling_strategy text CHECK (sampling_strategy IN ('full', 'sampled')),
    is_global         boolean     NOT NULL DEFAULT true,
    requested_by      text,
    last_request_id   text,       -- CloudEvents id of the IndexRequested being (or last) handled
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- One shared (global) source per dataset and config, as Nia's global pool.
CREATE UNIQUE INDEX sources_global ON sources (dataset, coalesce(config, '')) WHERE is_global;
CREATE INDEX sources_by_dataset ON sources (dataset);
