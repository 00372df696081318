-- The parquet conversion of each dataset (refs/convert/parquet): which main commit is wanted, which one the
-- current conversion was made from, and what could not be converted.

CREATE TABLE parquet_conversions (
    repo_id          text        PRIMARY KEY REFERENCES repos (id) ON DELETE CASCADE,
    -- The main commit to convert: the newest one announced. A conversion of any other commit is discarded
    -- when it finishes (a newer commit superseded it while it ran).
    wanted_sha       text        NOT NULL,
    pending          boolean     NOT NULL DEFAULT true,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    -- A worker converting `wanted_sha` holds the job until then; past it, another worker may take it over.
    lease_until      timestamptz,
    attempts         integer     NOT NULL DEFAULT 0,
    -- The finished conversion: the main commit it was made from and the refs/convert/parquet commit holding it.
    source_sha       text,
    converted_sha    text,
    converted_at     timestamptz,
    -- [{"config", "split", "path", "error"}]: the configs and splits that could not be converted, and why.
    errors           jsonb       NOT NULL DEFAULT '[]'
);

CREATE INDEX parquet_conversions_pending ON parquet_conversions (requested_at) WHERE pending;
