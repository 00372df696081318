"""The SQL of spaces: runtime state, variables, encrypted secrets, and the copy of a duplicated space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg

Record = asyncpg.Record
Conn = asyncpg.Connection | asyncpg.Pool


async def runtime(conn: Conn, repo_pk: str) -> Record | None:
    return await conn.fetchrow("SELECT * FROM space_runtimes WHERE repo_id = $1", repo_pk)


async def save_runtime(
    conn: asyncpg.Connection, repo_pk: str, *, stage: str, hardware: str, sleep_time: int | None
) -> None:
    await conn.execute(
        """INSERT INTO space_runtimes (repo_id, stage, hardware_requested, sleep_time) VALUES ($1, $2, $3, $4)
           ON CONFLICT (repo_id) DO UPDATE SET stage = EXCLUDED.stage,
               hardware_requested = EXCLUDED.hardware_requested, sleep_time = EXCLUDED.sleep_time,
               updated_at = now()""",
        repo_pk,
        stage,
        hardware,
        sleep_time,
    )


@dataclass(frozen=True)
class Entries:
    """Variables or secrets: the same key -> (stored value, description, time) table, of one of two kinds."""

    table: Literal["space_variables", "space_secrets"]
    stored: Literal["value", "ciphertext"]  # the column of the value (a secret's is never read back)


VARIABLES = Entries("space_variables", "value")
SECRETS = Entries("space_secrets", "ciphertext")


async def entries(conn: Conn, kind: Entries, repo_pk: str) -> list[Record]:
    """A space's variables with their values, or its secrets without theirs."""
    value = ", value" if kind is VARIABLES else ""
    return await conn.fetch(
        f"SELECT key{value}, description, updated_at FROM {kind.table} WHERE repo_id = $1 ORDER BY key", repo_pk
    )


async def set_entry(
    conn: asyncpg.Connection, kind: Entries, repo_pk: str, key: str, stored: str | bytes, description: str | None
) -> None:
    """Add or replace one; a description not given again is kept."""
    await conn.execute(
        f"""INSERT INTO {kind.table} (repo_id, key, {kind.stored}, description) VALUES ($1, $2, $3, $4)
            ON CONFLICT (repo_id, key) DO UPDATE SET {kind.stored} = EXCLUDED.{kind.stored},
                description = COALESCE(EXCLUDED.description, {kind.table}.description), updated_at = now()""",
        repo_pk,
        key,
        stored,
        description,
    )


async def delete_entry(conn: asyncpg.Connection, kind: Entries, repo_pk: str, key: str) -> None:
    await conn.execute(f"DELETE FROM {kind.table} WHERE repo_id = $1 AND key = $2", repo_pk, key)


async def copy_history(conn: asyncpg.Connection, source_pk: str, target_pk: str) -> None:
    """Give the new repo `target_pk` the source's commits, files, branches, tags, LFS objects and card, in place
    of its own first commit: a duplicate keeps the history (and commit ids) of what it copies, as on the Hub."""
    await conn.execute("DELETE FROM refs WHERE repo_id = $1", target_pk)
    await conn.execute("DELETE FROM commits WHERE repo_id = $1", target_pk)  # its files go with them
    await conn.execute(
        """INSERT INTO commits (repo_id, sha, parent_sha, title, message, author, created_at)
           SELECT $2, sha, parent_sha, title, message, author, created_at FROM commits WHERE repo_id = $1""",
        source_pk,
        target_pk,
    )
    await conn.execute(
        """INSERT INTO commit_files (repo_id, commit_sha, path, size, sha256, git_oid, lfs, last_commit)
           SELECT $2, commit_sha, path, size, sha256, git_oid, lfs, last_commit FROM commit_files WHERE repo_id = $1""",
        source_pk,
        target_pk,
    )
    await conn.execute(
        """INSERT INTO refs (repo_id, kind, name, target, message)
           SELECT $2, kind, name, target, message FROM refs WHERE repo_id = $1 AND kind IN ('branch', 'tag')""",
        source_pk,
        target_pk,
    )
    await conn.execute(
        """INSERT INTO repo_objects (repo_id, sha256, size) SELECT $2, sha256, size FROM repo_objects
           WHERE repo_id = $1""",
        source_pk,
        target_pk,
    )
    await conn.execute(
        """UPDATE repos t SET head_sha = s.head_sha, card_data = s.card_data, tags = s.tags, sdk = s.sdk
           FROM repos s WHERE t.id = $2 AND s.id = $1""",
        source_pk,
        target_pk,
    )
    await conn.execute(
        """INSERT INTO space_variables (repo_id, key, value, description)
           SELECT $2, key, value, description FROM space_variables WHERE repo_id = $1""",
        source_pk,
        target_pk,
    )


async def branches(conn: Conn, repo_pk: str) -> list[Record]:
    return await conn.fetch("SELECT name, target FROM refs WHERE repo_id = $1 AND kind = 'branch'", repo_pk)
