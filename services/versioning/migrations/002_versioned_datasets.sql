-- Versioned datasets (Humanloop's datasets API). Why the tables look like this: services/versioning/store.py.

-- Organisation-wide deployment targets. Humanloop organisations have `production` (the default) and
-- usually `staging`; deploying to a name not listed here is a 404.
CREATE TABLE environments (
    id         text PRIMARY KEY,                      -- env_...
    name       text        NOT NULL UNIQUE,
    tag        text        NOT NULL CHECK (tag IN ('default', 'other')),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO environments (id, name, tag) VALUES ('env_production', 'production', 'default'),
                                                ('env_staging', 'staging', 'other');

CREATE TABLE datasets (
    pk         bigserial PRIMARY KEY,
    id         text        NOT NULL UNIQUE,           -- ds_...
    path       text        NOT NULL UNIQUE,           -- "folder/name"
    head_seq   integer     NOT NULL DEFAULT 0,        -- seq of the newest version (0: none yet)
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Datapoint contents, once per dataset, addressed by the SHA-256 of their canonical JSON.
-- datapoints and membership, the two tables that grow with the data, have no foreign keys: a check per
-- row costs a third of a bulk insert. Only store.py writes them, with keys it has just read, and
-- store.delete_dataset removes them with their dataset.
CREATE TABLE datapoints (
    pk      bigserial PRIMARY KEY,                    -- insertion order: the order of datapoints in a version
    dataset bigint NOT NULL,
    hash    bytea  NOT NULL,
    id      text   NOT NULL,                          -- dp_<dataset pk in hex><80 bits of the hash>: unique by construction
    content jsonb  NOT NULL,                          -- {inputs?, messages?, target?}, canonical
    UNIQUE (dataset, hash)
);

-- Which datapoints each version holds: a datapoint is in the version numbered `seq` of its dataset when
-- from_seq <= seq < to_seq (to_seq is 2^31-1 while it is still in the newest version).
CREATE TABLE membership (
    dataset   bigint  NOT NULL,
    datapoint bigint  NOT NULL,
    from_seq  integer NOT NULL,
    to_seq    integer NOT NULL DEFAULT 2147483647,
    PRIMARY KEY (dataset, datapoint, from_seq),
    CHECK (from_seq < to_seq)
);
CREATE INDEX membership_closed ON membership (dataset, to_seq) WHERE to_seq < 2147483647;
CREATE INDEX membership_opened ON membership (dataset, from_seq);

CREATE TABLE versions (
    pk                  bigserial PRIMARY KEY,
    id                  text        NOT NULL UNIQUE,  -- dsv_...
    dataset             bigint      NOT NULL REFERENCES datasets (pk) ON DELETE CASCADE,
    seq                 integer     NOT NULL,
    base_id             text,                         -- the version the delta was applied to
    status              text        NOT NULL CHECK (status IN ('uncommitted', 'committed', 'deleted')),
    committed           boolean     NOT NULL DEFAULT false,  -- kept when deleted
    commit_message      text,
    version_name        text,
    version_description text,
    attributes          jsonb       NOT NULL DEFAULT '{}',
    datapoints_count    integer     NOT NULL,
    added               integer     NOT NULL,         -- against the base
    removed             integer     NOT NULL,
    digest              bytea       NOT NULL,         -- order-free hash of the contents (see store.py)
    created_by          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    committed_at        timestamptz,
    committed_by        text,
    deleted_at          timestamptz,
    UNIQUE (dataset, seq)
);
CREATE UNIQUE INDEX versions_name ON versions (dataset, version_name) WHERE version_name IS NOT NULL;
CREATE INDEX versions_digest ON versions (dataset, digest, datapoints_count);

-- Every ANCHOR_EVERY-th datapoint of a version, in page order: built on the first read past its first
-- pages (a version's members never change), so page p starts from an anchor instead of skipping
-- p * size rows. A read cache: never written when a version is created.
CREATE TABLE page_anchors (
    version   bigint  NOT NULL REFERENCES versions (pk) ON DELETE CASCADE,
    ordinal   integer NOT NULL,                        -- anchor i is the (i * ANCHOR_EVERY)-th member, 0-based
    datapoint bigint  NOT NULL,
    PRIMARY KEY (version, ordinal)
);

CREATE TABLE deployments (
    dataset     bigint      NOT NULL REFERENCES datasets (pk) ON DELETE CASCADE,
    environment text        NOT NULL REFERENCES environments (id),
    version     bigint      NOT NULL REFERENCES versions (pk) ON DELETE CASCADE,
    deployed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset, environment)
);

-- Every move of an environment's pointer, for the change log.
CREATE TABLE environment_moves (
    id           bigserial PRIMARY KEY,
    dataset      bigint      NOT NULL REFERENCES datasets (pk) ON DELETE CASCADE,
    environment  text        NOT NULL,
    from_version text,
    to_version   text,
    moved_by     text,
    moved_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX environment_moves_dataset ON environment_moves (dataset, id);

-- Idempotency keys of deltas that arrived as events, with their outcome.
CREATE TABLE delta_requests (
    request_id text PRIMARY KEY,
    outcome    text        NOT NULL,
    version_id text,
    handled_at timestamptz NOT NULL DEFAULT now()
);
