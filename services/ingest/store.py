"""All of the ingest service's SQL."""

from __future__ import annotations

import uuid

import asyncpg

Record = asyncpg.Record
Db = asyncpg.Connection | asyncpg.Pool


async def source(db: Db, source_id: uuid.UUID) -> Record | None:
    return await db.fetchrow("SELECT * FROM sources WHERE id = $1", source_id)


async def lock_source(conn: asyncpg.Connection, source_id: uuid.UUID) -> Record | None:
    """The source row, locked until the transaction ends (serialises its state changes and events)."""
    return await conn.fetchrow("SELECT * FROM sources WHERE id = $1 FOR UPDATE", source_id)


async def global_source(db: Db, dataset: str, config: str | None) -> Record | None:
    return await db.fetchrow(
        "SELECT * FROM sources WHERE is_global AND dataset = $1 AND coalesce(config, '') = coalesce($2, '')",
        dataset,
        config,
    )


async def insert_source(
    conn: asyncpg.Connection,
    *,
    source_id: uuid.UUID,
    dataset: str,
    config: str | None,
    is_global: bool,
    requested_by: str | None,
) -> Record | None:
    """Insert a pending source; None if a global source for that dataset and config exists already."""
    return await conn.fetchrow(
        """INSERT INTO sources (id, dataset, config, status, is_global, requested_by)
           VALUES ($1, $2, $3, 'pending', $4, $5)
           ON CONFLICT DO NOTHING RETURNING *""",
        source_id,
        dataset,
        config,
        is_global,
        requested_by,
    )


async def mark_requested(conn: asyncpg.Connection, source_id: uuid.UUID) -> Record:
    return await conn.fetchrow(
        """UPDATE sources SET status = 'pending', error = NULL, error_code = NULL, updated_at = now()
           WHERE id = $1 RETURNING *""",
        source_id,
    )


async def mark_processing(conn: asyncpg.Connection, source_id: uuid.UUID, request_id: str) -> None:
    await conn.execute(
        """UPDATE sources SET status = 'processing', last_request_id = $2, error = NULL, error_code = NULL,
                  updated_at = now() WHERE id = $1""",
        source_id,
        request_id,
    )


async def mark_failed(conn: asyncpg.Connection, source_id: uuid.UUID, error: str, error_code: str) -> None:
    await conn.execute(
        """UPDATE sources SET status = 'failed', error = $2, error_code = $3, updated_at = now() WHERE id = $1""",
        source_id,
        error,
        error_code,
    )


async def failed_sources_of(conn: asyncpg.Connection, dataset: str, error_code: str) -> list[Record]:
    """Failed sources of `dataset` with that error, locked."""
    return await conn.fetch(
        "SELECT * FROM sources WHERE dataset = $1 AND status = 'failed' AND error_code = $2 ORDER BY id FOR UPDATE",
        dataset,
        error_code,
    )


async def sources_in_status(conn: asyncpg.Connection, dataset: str, status: str) -> list[Record]:
    """Sources of `dataset` in `status`, locked."""
    return await conn.fetch(
        "SELECT * FROM sources WHERE dataset = $1 AND status = $2 ORDER BY id FOR UPDATE", dataset, status
    )
