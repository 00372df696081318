-- Pull requests from readers: someone who may read a repo but not write to it opens a PR with create_pr=True,
-- or pushes to refs/pr/N of an open PR of their own. The LFS objects they upload for it are theirs alone: they
-- may be named in their own PR commits, never in a branch's commit (repo_objects stays the writers' list), and
-- reach a branch only when a writer merges the PR.
CREATE TABLE reader_objects (
    repo_id    text        NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    uploader   text        NOT NULL,
    sha256     text        NOT NULL,
    size       bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, uploader, sha256)
);

-- Mirror tokens are sealed at rest with the catalog's secrets key (the one space secrets use, kept in the state
-- dir, never in the database). SQL cannot encrypt with a key it does not have, so rows written before this
-- migration keep their plain token in legacy_plain_token until the next catalog process (API or worker) starts:
-- it seals each into token_sealed and clears the plain one (services/catalog/mirror_tokens.py). Nothing reads
-- legacy_plain_token but that upgrade.
ALTER TABLE mirrors RENAME COLUMN token TO legacy_plain_token;
ALTER TABLE mirrors ADD COLUMN token_sealed bytea;
