-- Community: discussions and pull requests (one number sequence per repo, shared with the refs/pr/N refs),
-- their events, likes, and organizations' resource groups (who may read and write which of an org's repos).

CREATE TABLE discussions (
    repo_id      text        NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    num          integer     NOT NULL CHECK (num > 0),
    title        text        NOT NULL,
    author       text        NOT NULL,
    is_pr        boolean     NOT NULL,
    status       text        NOT NULL CHECK (status IN ('open', 'closed', 'merged', 'draft')),
    base_branch  text,        -- pull requests: the branch they merge into
    base_sha     text,        -- pull requests: the commit they started from (the merge base)
    merge_commit text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, num)
);
CREATE INDEX discussions_by_author ON discussions (repo_id, author);

-- Comments, status and title changes, commits to a PR: `data` holds what the Hub's event `data` holds.
CREATE TABLE discussion_events (
    id         text        PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),
    repo_id    text        NOT NULL,
    num        integer     NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('comment', 'status-change', 'commit', 'title-change')),
    author     text        NOT NULL,
    data       jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),  -- events of one transaction keep their order
    FOREIGN KEY (repo_id, num) REFERENCES discussions (repo_id, num) ON DELETE CASCADE
);
CREATE INDEX discussion_events_by_discussion ON discussion_events (repo_id, num, created_at);

CREATE TABLE repo_likes (
    repo_id    text        NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    user_name  text        NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, user_name)
);
CREATE INDEX repo_likes_by_user ON repo_likes (user_name, created_at);

CREATE TABLE resource_groups (
    id             text        PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),
    org            text        NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    name           text        NOT NULL,
    description    text        NOT NULL DEFAULT '',
    auto_join      boolean     NOT NULL DEFAULT false,  -- every org member holds auto_join_role in the group
    auto_join_role text        NOT NULL DEFAULT 'read' CHECK (auto_join_role IN ('admin', 'write', 'read')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org, name)
);

-- A membership counts only while the user is also a member of the group's organization (checked on use).
CREATE TABLE resource_group_members (
    group_id  text        NOT NULL REFERENCES resource_groups (id) ON DELETE CASCADE,
    user_name text        NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    role      text        NOT NULL CHECK (role IN ('admin', 'write', 'read')),
    added_by  text        NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_name)
);

ALTER TABLE repos ADD COLUMN resource_group text REFERENCES resource_groups (id) ON DELETE SET NULL;
CREATE INDEX repos_by_resource_group ON repos (resource_group) WHERE resource_group IS NOT NULL;
