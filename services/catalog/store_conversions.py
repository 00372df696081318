"""The catalog's SQL for parquet conversions (refs/convert/parquet): the jobs and what each one produced."""

from __future__ import annotations

import asyncpg

from services.catalog.store_files import Conn, Record


async def request(conn: asyncpg.Connection, repo_id: str, wanted_sha: str) -> None:
    """Ask for `wanted_sha` to be converted; it supersedes any commit asked for before (and its lease)."""
    await conn.execute(
        """INSERT INTO parquet_conversions (repo_id, wanted_sha) VALUES ($1, $2)
           ON CONFLICT (repo_id) DO UPDATE
           SET wanted_sha = EXCLUDED.wanted_sha, pending = true, requested_at = now(), lease_until = NULL,
               attempts = 0""",
        repo_id,
        wanted_sha,
    )


async def claim(conn: Conn, lease_seconds: float) -> Record | None:
    """The oldest pending job nobody holds (or whose holder's lease ran out), now held by the caller."""
    return await conn.fetchrow(
        """UPDATE parquet_conversions SET lease_until = now() + make_interval(secs => $1), attempts = attempts + 1
           WHERE repo_id = (
               SELECT repo_id FROM parquet_conversions
               WHERE pending AND (lease_until IS NULL OR lease_until < now())
               ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING repo_id, wanted_sha, attempts""",
        lease_seconds,
    )


async def lock_wanted(conn: asyncpg.Connection, repo_id: str) -> str | None:
    """The commit now wanted for this repo, the row locked until the transaction ends."""
    return await conn.fetchval("SELECT wanted_sha FROM parquet_conversions WHERE repo_id = $1 FOR UPDATE", repo_id)


async def finish(
    conn: asyncpg.Connection, repo_id: str, source_sha: str, converted_sha: str | None, errors: list[dict[str, str]]
) -> None:
    """Record a finished conversion of `source_sha` (converted_sha None: nothing to convert was found)."""
    await conn.execute(
        """UPDATE parquet_conversions
           SET pending = false, lease_until = NULL, source_sha = $2, converted_sha = $3, converted_at = now(),
               errors = $4::jsonb
           WHERE repo_id = $1""",
        repo_id,
        source_sha,
        converted_sha,
        errors,  # jsonb through the pool's codec
    )


async def release(conn: Conn, repo_id: str, wanted_sha: str) -> None:
    """Give a job back (the worker stops, or failed for a reason not the data's): another attempt may take it."""
    await conn.execute(
        "UPDATE parquet_conversions SET lease_until = NULL WHERE repo_id = $1 AND wanted_sha = $2",
        repo_id,
        wanted_sha,
    )


async def give_up(conn: Conn, repo_id: str, wanted_sha: str, error: str) -> None:
    """Stop retrying a job that failed too often; the error stays readable."""
    await conn.execute(
        """UPDATE parquet_conversions
           SET pending = false, lease_until = NULL, errors = $3::jsonb
           WHERE repo_id = $1 AND wanted_sha = $2""",
        repo_id,
        wanted_sha,
        [{"config": "", "split": "", "path": "", "error": error}],
    )


async def conversion(conn: Conn, repo_id: str) -> Record | None:
    return await conn.fetchrow(
        """SELECT wanted_sha, pending, source_sha, converted_sha, converted_at, errors
           FROM parquet_conversions WHERE repo_id = $1""",
        repo_id,
    )


async def repo_by_id(conn: Conn, repo_id: str) -> Record | None:
    return await conn.fetchrow("SELECT id, repo_type, namespace, name FROM repos WHERE id = $1", repo_id)


async def main_head(conn: Conn, repo_type: str, namespace: str, name: str) -> Record | None:
    """A repo's id and the commit at the head of its main branch (None: no such repo)."""
    return await conn.fetchrow(
        """SELECT r.id, f.target AS head FROM repos r
           LEFT JOIN refs f ON f.repo_id = r.id AND f.kind = 'branch' AND f.name = 'main'
           WHERE r.repo_type = $1 AND r.namespace = $2 AND r.name = $3""",
        repo_type,
        namespace,
        name,
    )
