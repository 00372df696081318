-- Mirrors of upstream Hubs: what each one follows, the state of its syncs, and which local repos are copies.

CREATE TABLE mirrors (
    name           text PRIMARY KEY,
    upstream_url   text        NOT NULL,
    token          text,        -- sent to the upstream as a Bearer token (never shown by `mirror status`)
    repos          text[]      NOT NULL DEFAULT '{}',  -- "dataset/owner/name"
    authors        text[]      NOT NULL DEFAULT '{}',
    search         text,
    collections    text[]      NOT NULL DEFAULT '{}',  -- recorded; collections are not copied yet
    every_seconds  integer     CHECK (every_seconds IS NULL OR every_seconds > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- The sync in progress or last run: requested (by an event) -> running -> succeeded | failed.
    state          text        NOT NULL DEFAULT 'idle'
                   CHECK (state IN ('idle', 'requested', 'running', 'succeeded', 'failed')),
    sync_id        text,
    requested_at   timestamptz,
    started_at     timestamptz,
    heartbeat_at   timestamptz,  -- a running sync whose heartbeat stops is taken over by another worker
    finished_at    timestamptz,
    last_success_at timestamptz,
    progress_done  integer     NOT NULL DEFAULT 0,
    progress_total integer     NOT NULL DEFAULT 0,
    counts         jsonb       NOT NULL DEFAULT '{}',
    changes        jsonb       NOT NULL DEFAULT '[]',  -- what the last sync changed: ["created dataset a/b", ...]
    last_error     text,
    upstream_reachable boolean
);

-- A repo copied from a mirror's upstream is read-only here; its row keeps the upstream's id.
ALTER TABLE repos ADD COLUMN mirror text REFERENCES mirrors (name);

-- What the upstream showed at the last copy: a repo whose sha and lastModified are unchanged is not copied again.
CREATE TABLE mirrored_repos (
    repo_id           text PRIMARY KEY REFERENCES repos (id) ON DELETE CASCADE,
    mirror            text        NOT NULL REFERENCES mirrors (name),
    upstream_sha      text,
    upstream_modified text,
    synced_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mirrored_repos_by_mirror ON mirrored_repos (mirror);

-- Regular (non-LFS) files of mirrored repos are known upstream by their git blob id only: their sha256 (the blob
-- store's key) is learnt on the first download and kept here, so later copies of the same content know it.
CREATE TABLE mirror_blob_ids (
    git_oid text PRIMARY KEY,
    sha256  text NOT NULL
);
