"""The catalog's SQL for files and history: commits, their file lists, refs, LFS objects."""

from __future__ import annotations

import asyncpg

Conn = asyncpg.Connection | asyncpg.Pool
Record = asyncpg.Record

FILE_COLUMNS = ("repo_id", "commit_sha", "path", "size", "sha256", "git_oid", "lfs", "last_commit")


async def lock_repo(conn: asyncpg.Connection, repo_id: str) -> None:
    """Commits and ref changes of one repo take turns: none is lost, PR numbers never clash."""
    await conn.execute("SELECT 1 FROM repos WHERE id = $1 FOR UPDATE", repo_id)


async def ref_target(conn: Conn, repo_id: str, kind: str, name: str) -> str | None:
    return await conn.fetchval(
        "SELECT target FROM refs WHERE repo_id = $1 AND kind = $2 AND name = $3", repo_id, kind, name
    )


async def branch_files(conn: Conn, repo_id: str, branch: str) -> tuple[str, list[Record]] | None:
    """The commit a branch points at and its files in path order, in one query; None without that branch."""
    rows = await conn.fetch(
        """SELECT r.target, f.path, f.size, f.sha256, f.git_oid, f.lfs FROM refs r
           LEFT JOIN commit_files f ON f.repo_id = r.repo_id AND f.commit_sha = r.target
           WHERE r.repo_id = $1 AND r.kind = 'branch' AND r.name = $2 ORDER BY f.path""",
        repo_id,
        branch,
    )
    if not rows:
        return None
    return rows[0]["target"], [r for r in rows if r["path"] is not None]


async def refs(conn: Conn, repo_id: str) -> list[Record]:
    return await conn.fetch("SELECT kind, name, target FROM refs WHERE repo_id = $1 ORDER BY kind, name", repo_id)


async def set_ref(conn: asyncpg.Connection, repo_id: str, kind: str, name: str, target: str) -> None:
    await conn.execute(
        """INSERT INTO refs (repo_id, kind, name, target) VALUES ($1, $2, $3, $4)
           ON CONFLICT (repo_id, kind, name) DO UPDATE SET target = EXCLUDED.target, updated_at = now()""",
        repo_id,
        kind,
        name,
        target,
    )


async def insert_ref(
    conn: asyncpg.Connection, repo_id: str, kind: str, name: str, target: str, message: str | None = None
) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO refs (repo_id, kind, name, target, message) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT DO NOTHING RETURNING true""",
        repo_id,
        kind,
        name,
        target,
        message,
    )
    return bool(inserted)


async def delete_ref(conn: asyncpg.Connection, repo_id: str, kind: str, name: str) -> str | None:
    return await conn.fetchval(
        "DELETE FROM refs WHERE repo_id = $1 AND kind = $2 AND name = $3 RETURNING target", repo_id, kind, name
    )


async def commits_with_prefix(conn: Conn, repo_id: str, prefix: str) -> list[str]:
    """Commit ids that start with `prefix` (short ids), at most two: enough to tell unique from ambiguous."""
    return [
        r["sha"]
        for r in await conn.fetch(
            "SELECT sha FROM commits WHERE repo_id = $1 AND sha LIKE $2 || '%' LIMIT 2", repo_id, prefix
        )
    ]


async def commit(conn: Conn, repo_id: str, sha: str) -> Record | None:
    return await conn.fetchrow("SELECT * FROM commits WHERE repo_id = $1 AND sha = $2", repo_id, sha)


async def insert_commit(
    conn: asyncpg.Connection,
    *,
    repo_id: str,
    sha: str,
    parent_sha: str | None,
    title: str,
    message: str,
    author: str,
) -> None:
    await conn.execute(
        """INSERT INTO commits (repo_id, sha, parent_sha, title, message, author) VALUES ($1, $2, $3, $4, $5, $6)""",
        repo_id,
        sha,
        parent_sha,
        title,
        message,
        author,
    )


_START_AT_COMMIT = "c.sha = $2"
# A branch's history without resolving the branch first: one round trip for the commonest listing.
_START_AT_BRANCH = "c.sha = (SELECT target FROM refs WHERE repo_id = $1 AND kind = 'branch' AND name = $2)"


async def history(conn: Conn, repo_id: str, sha: str, *, offset: int, limit: int, branch: bool = False) -> list[Record]:
    """Commits reachable from `sha` by parent links, newest first; from the commit the branch `sha` names
    if `branch` (none when there is no such branch)."""
    start = _START_AT_BRANCH if branch else _START_AT_COMMIT
    return await conn.fetch(
        f"""WITH RECURSIVE chain AS (
               SELECT c.*, 0 AS depth FROM commits c WHERE c.repo_id = $1 AND {start}
               UNION ALL
               SELECT c.*, chain.depth + 1 FROM commits c
               JOIN chain ON c.repo_id = chain.repo_id AND c.sha = chain.parent_sha
           )
           SELECT sha, parent_sha, title, message, author, created_at FROM chain
           ORDER BY depth OFFSET $3 LIMIT $4""",
        repo_id,
        sha,
        offset,
        limit,
    )


async def head_paths(conn: Conn, heads: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The file paths of several repos at their heads ((repo id, commit) pairs), in one query: repo id -> paths."""
    rows = await conn.fetch(
        """SELECT f.repo_id, f.path FROM unnest($1::text[], $2::text[]) AS h (repo_id, sha)
           JOIN commit_files f ON f.repo_id = h.repo_id AND f.commit_sha = h.sha ORDER BY f.repo_id, f.path""",
        [repo for repo, _ in heads],
        [sha for _, sha in heads],
    )
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row["repo_id"], []).append(row["path"])
    return out


async def files(conn: Conn, repo_id: str, sha: str, under: str = "") -> list[Record]:
    """The files of a commit, in path order; `under` ("a/b") keeps those inside that folder."""
    if not under:
        return await conn.fetch(
            "SELECT * FROM commit_files WHERE repo_id = $1 AND commit_sha = $2 ORDER BY path", repo_id, sha
        )
    return await conn.fetch(
        """SELECT * FROM commit_files WHERE repo_id = $1 AND commit_sha = $2
           AND starts_with(path, $3) ORDER BY path""",
        repo_id,
        sha,
        under.rstrip("/") + "/",
    )


async def file(conn: Conn, repo_id: str, sha: str, path: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM commit_files WHERE repo_id = $1 AND commit_sha = $2 AND path = $3", repo_id, sha, path
    )


async def files_at(conn: Conn, repo_id: str, sha: str, paths: list[str]) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM commit_files WHERE repo_id = $1 AND commit_sha = $2 AND path = ANY($3::text[])",
        repo_id,
        sha,
        paths,
    )


async def copy_files(
    conn: asyncpg.Connection,
    repo_id: str,
    parent: str,
    child: str,
    except_paths: list[str],
    *,
    last_commit: str | None = None,
) -> None:
    """The child commit keeps every file of its parent it does not change or delete (in SQL, no round trips).

    An anti-join rather than `<> ALL(array)`, so a commit touching thousands of paths stays linear.
    """
    await conn.execute(
        """INSERT INTO commit_files (repo_id, commit_sha, path, size, sha256, git_oid, lfs, last_commit)
           SELECT repo_id, $3, path, size, sha256, git_oid, lfs, coalesce($5, last_commit) FROM commit_files
           WHERE repo_id = $1 AND commit_sha = $2
           AND NOT EXISTS (SELECT 1 FROM unnest($4::text[]) AS changed (p) WHERE changed.p = commit_files.path)""",
        repo_id,
        parent,
        child,
        except_paths,
        last_commit,
    )


async def insert_files(conn: asyncpg.Connection, rows: list[tuple[object, ...]]) -> None:
    if rows:
        await conn.copy_records_to_table("commit_files", records=rows, columns=FILE_COLUMNS)


async def set_head(conn: asyncpg.Connection, repo_id: str, sha: str) -> None:
    await conn.execute("UPDATE repos SET head_sha = $2, updated_at = now() WHERE id = $1", repo_id, sha)


async def add_repo_object(conn: asyncpg.Connection, repo_id: str, sha256: str, size: int) -> None:
    await conn.execute(
        "INSERT INTO repo_objects (repo_id, sha256, size) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        repo_id,
        sha256,
        size,
    )


async def repo_objects(conn: Conn, repo_id: str, sha256s: list[str]) -> dict[str, int]:
    """Of these LFS objects, those this repo holds, with their sizes."""
    rows = await conn.fetch(
        "SELECT sha256, size FROM repo_objects WHERE repo_id = $1 AND sha256 = ANY($2::text[])", repo_id, sha256s
    )
    return {r["sha256"]: r["size"] for r in rows}


async def add_reader_object(conn: asyncpg.Connection, repo_id: str, uploader: str, sha256: str, size: int) -> None:
    """An LFS object a reader (not a writer) of the repo uploaded, for pull requests of their own."""
    await conn.execute(
        """INSERT INTO reader_objects (repo_id, uploader, sha256, size) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING""",
        repo_id,
        uploader,
        sha256,
        size,
    )


async def reader_objects(conn: Conn, repo_id: str, uploader: str, sha256s: list[str]) -> dict[str, int]:
    """Of these LFS objects, those this reader uploaded to this repo, with their sizes."""
    rows = await conn.fetch(
        """SELECT sha256, size FROM reader_objects
           WHERE repo_id = $1 AND uploader = $2 AND sha256 = ANY($3::text[])""",
        repo_id,
        uploader,
        sha256s,
    )
    return {r["sha256"]: r["size"] for r in rows}


async def signing_key(conn: Conn, name: str) -> str:
    return await conn.fetchval("SELECT key FROM signing_keys WHERE name = $1", name)


async def commits_by_sha(conn: Conn, repo_id: str, shas: list[str]) -> dict[str, Record]:
    rows = await conn.fetch(
        "SELECT sha, title, created_at FROM commits WHERE repo_id = $1 AND sha = ANY($2::text[])", repo_id, shas
    )
    return {r["sha"]: r for r in rows}
