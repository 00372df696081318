-- Collections (curated lists of repos, papers and other collections), papers registered by operators, and the
-- settings of spaces (runtime state, hardware, variables, encrypted secrets). hubstream runs no Space apps.

CREATE TABLE collections (
    id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),  -- the slug's tail: the slug is owner/title-id
    owner       text        NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    title       text        NOT NULL,
    description text,
    private     boolean     NOT NULL DEFAULT false,
    theme       text        NOT NULL,
    position    integer     NOT NULL,  -- among the owner's collections, from 0
    upvotes     integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, title)  -- a second one of the same title is a 409 naming the first (create's exists_ok)
);
CREATE INDEX collections_by_updated ON collections (updated_at DESC, id);

-- An item names what it lists by a stable key: a repo's id (so a renamed repo stays listed), a paper's arXiv
-- id or a collection's id. Items whose repo or collection is gone are not shown.
CREATE TABLE collection_items (
    id            text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),  -- the item's `_id` (item_object_id)
    collection_id text        NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    item_type     text        NOT NULL CHECK (item_type IN ('model', 'dataset', 'space', 'paper', 'collection')),
    item_key      text        NOT NULL,
    note          text,
    position      integer     NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (collection_id, item_type, item_key)
);
CREATE INDEX collection_items_by_item ON collection_items (item_type, item_key);

CREATE TABLE papers (
    id                   text PRIMARY KEY,  -- the arXiv id, e.g. 2307.09288
    title                text        NOT NULL,
    summary              text        NOT NULL DEFAULT '',
    authors              text[]      NOT NULL DEFAULT '{}',
    published_at         timestamptz NOT NULL,
    submitted_on_daily   timestamptz,       -- null: not among the daily papers
    submitted_by         text,
    upvotes              integer     NOT NULL DEFAULT 0,
    project_page         text,
    github_repo          text,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX papers_daily ON papers (submitted_on_daily DESC, id) WHERE submitted_on_daily IS NOT NULL;

-- A space's runtime as hubstream reports it (README: "Spaces"): what was last asked for, never a running app.
CREATE TABLE space_runtimes (
    repo_id            text PRIMARY KEY REFERENCES repos (id) ON DELETE CASCADE,
    stage              text        NOT NULL CHECK (stage IN ('RUNNING', 'PAUSED')),
    hardware_requested text        NOT NULL,
    sleep_time         integer,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE space_variables (
    repo_id     text        NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    key         text        NOT NULL,
    value       text        NOT NULL,
    description text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, key)
);

-- Values are Fernet tokens (AES-128-CBC + HMAC-SHA256) under a key kept in the state dir, never in the
-- database: a dump of the database alone does not reveal them. They are never returned by the API.
CREATE TABLE space_secrets (
    repo_id     text        NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    key         text        NOT NULL,
    ciphertext  bytea       NOT NULL,
    description text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, key)
);
