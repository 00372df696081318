-- Accounts: users and organizations share one namespace, as on the Hub.
CREATE TABLE accounts (
    name       text PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('user', 'org')),
    fullname   text        NOT NULL DEFAULT '',
    email      text,
    is_admin   boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE org_members (
    org        text NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    user_name  text NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('admin', 'write', 'read')),
    PRIMARY KEY (org, user_name)
);

-- Only a SHA-256 of each token is stored.
CREATE TABLE tokens (
    id           text PRIMARY KEY,
    user_name    text        NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    display_name text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    token_sha256 text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX tokens_by_user ON tokens (user_name);

CREATE TABLE repos (
    id         text PRIMARY KEY,  -- 24 hex digits, like the Hub's object ids
    repo_type  text        NOT NULL CHECK (repo_type IN ('model', 'dataset', 'space')),
    namespace  text        NOT NULL REFERENCES accounts (name),
    name       text        NOT NULL,
    private    boolean     NOT NULL DEFAULT false,
    author     text        NOT NULL,
    head_sha   text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (repo_type, namespace, name)
);
