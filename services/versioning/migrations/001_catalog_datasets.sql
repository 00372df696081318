-- Dataset repos the catalog has announced; versioned datasets will link to them.
CREATE TABLE catalog_datasets (
    repo_id    text PRIMARY KEY,  -- "owner/name"
    private    boolean     NOT NULL,
    author     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
