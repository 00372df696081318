"""The catalog's SQL for mirrors: their settings and sync state, and the local copies of upstream repos."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any

import asyncpg

Conn = asyncpg.Connection | asyncpg.Pool
Record = asyncpg.Record

# A running sync whose worker stopped beating this long ago is taken over by another worker.
STALE_RUN_SECONDS = 60


async def insert_mirror(
    conn: asyncpg.Connection,
    *,
    name: str,
    upstream_url: str,
    token_sealed: bytes | None,
    repos: list[str],
    authors: list[str],
    search: str | None,
    collections: list[str],
    every_seconds: int | None,
) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO mirrors (name, upstream_url, token_sealed, repos, authors, search, collections, every_seconds)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING RETURNING true""",
        name,
        upstream_url,
        token_sealed,
        repos,
        authors,
        search,
        collections,
        every_seconds,
    )
    return bool(inserted)


async def mirror(conn: Conn, name: str) -> Record | None:
    return await conn.fetchrow("SELECT * FROM mirrors WHERE name = $1", name)


async def mirrors(conn: Conn) -> list[Record]:
    return await conn.fetch("SELECT * FROM mirrors ORDER BY name")


async def delete_mirror(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute("DELETE FROM mirrors WHERE name = $1", name)


async def mark_requested(conn: asyncpg.Connection, name: str, sync_id: str) -> bool:
    """Record a requested sync, unless one is running (it ends soon and the request is then taken as met)."""
    updated = await conn.fetchval(
        """UPDATE mirrors SET state = 'requested', sync_id = $2, requested_at = now()
           WHERE name = $1 AND state <> 'running' RETURNING true""",
        name,
        sync_id,
    )
    return bool(updated)


async def due_scheduled(conn: asyncpg.Connection) -> list[Record]:
    """Mirrors with `--every` whose next sync is due and that nobody asked to sync yet (locked)."""
    return await conn.fetch(
        """SELECT name, upstream_url FROM mirrors
           WHERE every_seconds IS NOT NULL AND state IN ('idle', 'succeeded', 'failed')
           AND coalesce(finished_at, created_at) + every_seconds * interval '1 second' <= now()
           FOR UPDATE SKIP LOCKED"""
    )


async def claim_sync(conn: asyncpg.Connection) -> Record | None:
    """Take one requested sync (or one whose worker stopped) to run; None when there is none."""
    return await conn.fetchrow(
        f"""UPDATE mirrors SET state = 'running', started_at = now(), heartbeat_at = now(),
               progress_done = 0, progress_total = 0
           WHERE name = (
               SELECT name FROM mirrors
               WHERE state = 'requested'
                  OR (state = 'running' AND heartbeat_at < now() - interval '{STALE_RUN_SECONDS} seconds')
               ORDER BY requested_at NULLS FIRST LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING *"""
    )


async def heartbeat(conn: Conn, name: str, done: int, total: int) -> None:
    await conn.execute(
        "UPDATE mirrors SET heartbeat_at = now(), progress_done = $2, progress_total = $3 WHERE name = $1",
        name,
        done,
        total,
    )


async def finish_sync(
    conn: asyncpg.Connection,
    name: str,
    *,
    ok: bool,
    counts: dict[str, int],
    changes: list[str],
    error: str | None,
    reachable: bool,
) -> None:
    await conn.execute(
        """UPDATE mirrors SET state = $2, finished_at = now(), heartbeat_at = NULL, counts = $3,
               changes = $4, last_error = $5, upstream_reachable = $6,
               last_success_at = CASE WHEN $2 = 'succeeded' THEN now() ELSE last_success_at END
           WHERE name = $1""",
        name,
        "succeeded" if ok else "failed",
        counts,  # jsonb: the pool's codec encodes Python values (services/runtime/db.py)
        changes,
        error,
        reachable,
    )


async def mirrored(conn: Conn, mirror_name: str) -> list[Record]:
    """The local copies of a mirror's repos, with what the upstream showed when each was copied."""
    return await conn.fetch(
        """SELECT r.id, r.repo_type, r.namespace, r.name, m.upstream_sha, m.upstream_modified
           FROM mirrored_repos m JOIN repos r ON r.id = m.repo_id WHERE m.mirror = $1""",
        mirror_name,
    )


async def repos_for_update(
    conn: asyncpg.Connection, repo_type: str, namespace: str, name: str, repo_id: str
) -> list[Record]:
    """Locked, in one query: the repo of that name and the repo of that id (the same row, two, or none)."""
    return await conn.fetch(
        """SELECT * FROM repos WHERE (repo_type = $1 AND namespace = $2 AND name = $3) OR id = $4
           ORDER BY id FOR UPDATE""",
        repo_type,
        namespace,
        name,
        repo_id,
    )


@dataclass(frozen=True)
class CopyFields:
    """A copied repo's fields as the upstream shows them, and what was copied (compared at the next sync)."""

    head_sha: str
    private: bool
    gated: str
    card_data: dict[str, Any] | None
    tags: list[str]
    likes: int
    downloads: int
    created_at: datetime | None
    updated_at: datetime | None
    sdk: str | None
    upstream_sha: str
    upstream_modified: str

    def args(self) -> tuple[Any, ...]:
        return astuple(self)


# $1 is the repo id, $2 the mirror; then CopyFields in order.
_FIELDS = "$3, $4, $5, $6, $7, $8, $9, coalesce($10, now()), coalesce($11, now()), $12"


async def insert_mirrored_repo(
    conn: asyncpg.Connection, *, repo_id: str, repo_type: str, namespace: str, name: str, mirror: str,
    fields: CopyFields,
) -> None:  # fmt: skip
    """The repo row with its fields, its namespace as a plain user account if none holds that name yet, and
    what was copied: one statement."""
    await conn.execute(
        f"""WITH account AS (
               INSERT INTO accounts (name, kind, fullname) VALUES ($15, 'user', '') ON CONFLICT (name) DO NOTHING
           ), repo AS (
               INSERT INTO repos (id, mirror, head_sha, private, gated, card_data, tags, likes, downloads,
                   created_at, updated_at, sdk, repo_type, namespace, name, author)
               VALUES ($1, $2, {_FIELDS}, $17, $15, $16, $15)
           )
           INSERT INTO mirrored_repos (repo_id, mirror, upstream_sha, upstream_modified) VALUES ($1, $2, $13, $14)""",
        repo_id,
        mirror,
        *fields.args(),
        namespace,
        name,
        repo_type,
    )


async def clear_history(conn: asyncpg.Connection, repo_id: str, keep: list[str]) -> None:
    """A repo's refs, and its commits with their file lists (its files go with its commits), to be written again;
    but the commits of `keep` (still in the upstream's history) whose tree is here stay, with it: a commit's tree
    never changes, and one fetched on a read (mirror_trees.py) is then still served when the upstream is down."""
    await conn.execute(
        """WITH gone AS (DELETE FROM refs WHERE repo_id = $1)
           DELETE FROM commits WHERE repo_id = $1 AND (tree_missing OR sha <> ALL($2::text[]))""",
        repo_id,
        keep,
    )


async def set_copy_fields(conn: asyncpg.Connection, repo_id: str, *, mirror: str, fields: CopyFields) -> None:
    """A copy's fields as the upstream shows them now, and what was copied: one statement."""
    await conn.execute(
        f"""WITH changed AS (
               UPDATE repos SET (head_sha, private, gated, card_data, tags, likes, downloads, created_at,
                   updated_at, sdk) = ({_FIELDS})
               WHERE id = $1
           )
           INSERT INTO mirrored_repos (repo_id, mirror, upstream_sha, upstream_modified) VALUES ($1, $2, $13, $14)
           ON CONFLICT (repo_id) DO UPDATE SET upstream_sha = EXCLUDED.upstream_sha,
               upstream_modified = EXCLUDED.upstream_modified, synced_at = now()""",
        repo_id,
        mirror,
        *fields.args(),
    )


# A copied file row from parallel arrays (commit, path, size, LFS sha256 or NULL, git blob id) starting at parameter
# $n: a regular file's sha256 is the one learnt from an earlier download, if any.
def _copied_files(n: int) -> str:
    return f"""INSERT INTO commit_files (repo_id, commit_sha, path, size, sha256, git_oid, lfs, last_commit)
           SELECT $1, f.sha, f.path, f.size, coalesce(f.sha256, b.sha256, ''), f.git_oid, f.sha256 IS NOT NULL, f.sha
           FROM unnest(${n}::text[], ${n + 1}::text[], ${n + 2}::bigint[], ${n + 3}::text[], ${n + 4}::text[])
               AS f (sha, path, size, sha256, git_oid)
           LEFT JOIN mirror_blob_ids b ON f.sha256 IS NULL AND b.git_oid = f.git_oid"""


async def insert_history(
    conn: asyncpg.Connection,
    repo_id: str,
    commits: list[tuple[str, str | None, str, str, str, datetime | None, bool]],
    files: list[tuple[str, str, int, str | None, str]],
    refs: list[tuple[str, str, str]],
) -> None:
    """One copied repo's commits (sha, parent, title, message, author, date, whether its tree is missing), files
    at each ref's commit (commit, path, size, LFS sha256 or None, git blob id) and refs (kind, name, target): one
    statement, one round trip, however long the lists. A commit kept with its tree by `clear_history` gets its
    fields again and keeps its files (the same ones: a commit's tree never changes)."""
    c = list(zip(*commits, strict=True)) or [[]] * 7
    f = list(zip(*files, strict=True)) or [[]] * 5
    r = list(zip(*refs, strict=True)) or [[]] * 3
    await conn.execute(
        f"""WITH copied_commits AS (
               INSERT INTO commits (repo_id, sha, parent_sha, title, message, author, created_at, tree_missing)
               SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                   $7::timestamptz[], $8::boolean[])
               ON CONFLICT (repo_id, sha) DO UPDATE SET (parent_sha, title, message, author, created_at)
                   = (EXCLUDED.parent_sha, EXCLUDED.title, EXCLUDED.message, EXCLUDED.author, EXCLUDED.created_at)
           ), copied_refs AS (
               INSERT INTO refs (repo_id, kind, name, target)
               SELECT $1, * FROM unnest($9::text[], $10::text[], $11::text[])
           )
           {_copied_files(12)}
           ON CONFLICT (repo_id, commit_sha, path) DO NOTHING""",
        repo_id,
        *c,
        *r,
        *f,
    )


async def tree_missing(conn: Conn, repo_id: str, sha: str) -> bool:
    """Whether the commit is one of a mirrored repo's whose tree was not copied yet."""
    return bool(await conn.fetchval("SELECT tree_missing FROM commits WHERE repo_id = $1 AND sha = $2", repo_id, sha))


async def insert_tree(conn: Conn, repo_id: str, sha: str, files: list[tuple[str, int, str | None, str]]) -> None:
    """The tree of a commit whose tree was missing: its files (path, size, LFS sha256 or None, git blob id), in one
    statement that first clears the commit's mark. A concurrent one (another first read) waits for that row, finds
    the mark cleared and stores nothing: the tree is stored once, and neither fails."""
    f = list(zip(*((sha, *file) for file in files), strict=True)) or [[]] * 5
    await conn.execute(
        f"""WITH claimed AS (
               UPDATE commits SET tree_missing = false WHERE repo_id = $1 AND sha = $2 AND tree_missing RETURNING sha
           )
           {_copied_files(3)}
           WHERE EXISTS (SELECT FROM claimed)""",
        repo_id,
        sha,
        *f,
    )


async def insert_commits(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Rows of (repo_id, sha, parent_sha, title, message, author, created_at) (bulk loads: COPY)."""
    if rows:
        await conn.copy_records_to_table(
            "commits",
            records=rows,
            columns=("repo_id", "sha", "parent_sha", "title", "message", "author", "created_at"),
        )


async def insert_refs(conn: asyncpg.Connection, rows: list[tuple[str, str, str, str]]) -> None:
    """Rows of (repo_id, kind, name, target) (bulk loads: COPY)."""
    if rows:
        await conn.copy_records_to_table("refs", records=rows, columns=("repo_id", "kind", "name", "target"))


async def known_sha256(conn: Conn, git_oids: list[str]) -> dict[str, str]:
    rows = await conn.fetch("SELECT git_oid, sha256 FROM mirror_blob_ids WHERE git_oid = ANY($1::text[])", git_oids)
    return {r["git_oid"]: r["sha256"] for r in rows}


async def learn_sha256(conn: asyncpg.Connection, repo_id: str, git_oid: str, sha256: str) -> None:
    """A regular file of a mirrored repo was downloaded: its content is now known by its sha256."""
    await conn.execute(
        "INSERT INTO mirror_blob_ids (git_oid, sha256) VALUES ($1, $2) ON CONFLICT DO NOTHING", git_oid, sha256
    )
    await conn.execute(
        "UPDATE commit_files SET sha256 = $3 WHERE repo_id = $1 AND git_oid = $2 AND NOT lfs AND sha256 = ''",
        repo_id,
        git_oid,
        sha256,
    )


async def delete_named_repo(conn: asyncpg.Connection, repo_id: str, repo_type: str, namespace: str, name: str) -> bool:
    """The repo of that id goes if it still has that name; whether it went."""
    deleted = await conn.fetchval(
        "DELETE FROM repos WHERE id = $1 AND repo_type = $2 AND namespace = $3 AND name = $4 RETURNING true",
        repo_id,
        repo_type,
        namespace,
        name,
    )
    return bool(deleted)


async def upstream_of(conn: Conn, mirror_name: str) -> tuple[str, bytes | None] | None:
    """The mirror's upstream URL and its sealed token (mirror_tokens.py opens it)."""
    row = await conn.fetchrow("SELECT upstream_url, token_sealed FROM mirrors WHERE name = $1", mirror_name)
    return None if row is None else (row["upstream_url"], row["token_sealed"])


async def plain_tokens(conn: asyncpg.Connection) -> list[Record]:
    """Mirrors whose token an earlier version kept in plain text (locked, to be sealed)."""
    return await conn.fetch(
        "SELECT name, legacy_plain_token FROM mirrors WHERE legacy_plain_token IS NOT NULL FOR UPDATE"
    )


async def set_sealed_token(conn: asyncpg.Connection, name: str, sealed: bytes | None) -> None:
    await conn.execute("UPDATE mirrors SET token_sealed = $2, legacy_plain_token = NULL WHERE name = $1", name, sealed)


def when(value: datetime | None) -> str:
    return "never" if value is None else value.isoformat(timespec="seconds")


async def set_heads(conn: asyncpg.Connection, heads: list[tuple[str, str]]) -> None:
    """Bulk: (repo id, commit) pairs as the repos' heads (benchmark loads)."""
    await conn.execute(
        """UPDATE repos SET head_sha = h.sha FROM unnest($1::text[], $2::text[]) AS h (id, sha)
           WHERE repos.id = h.id""",
        [r for r, _ in heads],
        [s for _, s in heads],
    )


async def forget_copies(conn: asyncpg.Connection, mirror_name: str) -> None:
    """Benchmarks: every copy of a mirror goes, without events, so that the next sync is a full one again."""
    await conn.execute("DELETE FROM repos WHERE mirror = $1", mirror_name)
