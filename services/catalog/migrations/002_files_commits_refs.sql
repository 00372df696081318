-- Files and history: commits, the full file list of each commit, refs, and the LFS objects each repo owns.
-- File contents live in the blob store (content-addressed by sha256); only metadata is here.

CREATE TABLE commits (
    repo_id    text        NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    sha        text        NOT NULL CHECK (sha ~ '^[0-9a-f]{40}$'),
    parent_sha text,
    title      text        NOT NULL,
    message    text        NOT NULL DEFAULT '',
    author     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, sha)
);

-- Every commit lists all its files (a snapshot, not a diff): reading a revision is one indexed range scan.
-- last_commit is the commit that last changed the path (the tree's `lastCommit`), carried forward unchanged.
CREATE TABLE commit_files (
    repo_id     text    NOT NULL,
    commit_sha  text    NOT NULL,
    path        text    NOT NULL,
    size        bigint  NOT NULL,
    sha256      text    NOT NULL,
    git_oid     text    NOT NULL,  -- git blob id: of the content, or of the LFS pointer for LFS files
    lfs         boolean NOT NULL,
    last_commit text    NOT NULL,
    PRIMARY KEY (repo_id, commit_sha, path),
    FOREIGN KEY (repo_id, commit_sha) REFERENCES commits (repo_id, sha) ON DELETE CASCADE
);

CREATE TABLE refs (
    repo_id    text        NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    kind       text        NOT NULL CHECK (kind IN ('branch', 'tag', 'pr', 'convert')),
    name       text        NOT NULL,
    target     text        NOT NULL,
    message    text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, kind, name)
);

-- An LFS object may be named in a repo's commit only once it was uploaded to that repo (or is already
-- in it): knowing a sha256 is not proof of holding the content.
CREATE TABLE repo_objects (
    repo_id    text        NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    sha256     text        NOT NULL,
    size       bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, sha256)
);

-- The key that signs LFS upload URLs, shared by every catalog process (the URL carries no token).
CREATE TABLE signing_keys (
    name text PRIMARY KEY,
    key  text NOT NULL
);
INSERT INTO signing_keys (name, key)
VALUES ('lfs-upload', replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''));
