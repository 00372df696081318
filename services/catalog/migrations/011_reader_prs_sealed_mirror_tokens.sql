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
