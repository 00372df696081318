"""All of the ingest service's SQL.

Lock order: a source's row before any of its runs' rows, in every transaction that writes both.
A cancel, a delete or a new request changes the source and then its runs; the worker checkpoints
a run and then shows the progress on its source. Taken in opposite orders those two deadlock
(PostgreSQL aborts one of them, and a cancel answered 500), so `lock_run` and `cancel_runs`
take the source's lock first themselves.
"""

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
    reader_checked: bool = False,
) -> Record | None:
    """Insert a pending source; None if a global source for that dataset and config exists already."""
    return await conn.fetchrow(
        """INSERT INTO sources (id, dataset, config, status, is_global, requested_by, reader_checked)
           VALUES ($1, $2, $3, 'pending', $4, $5, $6)
           ON CONFLICT DO NOTHING RETURNING *""",
        source_id,
        dataset,
        config,
        is_global,
        requested_by,
        reader_checked,
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


async def describe(
    conn: asyncpg.Connection, source_id: uuid.UUID, description: str | None, license: str | None
) -> None:
    """The dataset's description and license, as its card says at the revision being indexed."""
    await conn.execute(
        "UPDATE sources SET description = $2, license = $3, updated_at = now() WHERE id = $1",
        source_id,
        description,
        license,
    )


async def mark_failed(conn: asyncpg.Connection, source_id: uuid.UUID, error: str, error_code: str) -> None:
    """The source's run failed (or was cancelled). Its index is dropped, so a source with no index of an earlier
    run has nothing indexed: its counts say so, not how far the failed run had come (show_progress)."""
    await conn.execute(
        """UPDATE sources SET status = 'failed', error = $2, error_code = $3, updated_at = now(),
                  indexed_row_count = CASE WHEN index_name IS NULL THEN 0 ELSE indexed_row_count END,
                  chunk_count = CASE WHEN index_name IS NULL THEN 0 ELSE chunk_count END
           WHERE id = $1""",
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


async def sources_of(conn: asyncpg.Connection, dataset: str) -> list[Record]:
    """Every source of `dataset`, locked."""
    return await conn.fetch("SELECT * FROM sources WHERE dataset = $1 ORDER BY id FOR UPDATE", dataset)


async def sources_in_status(conn: asyncpg.Connection, dataset: str, status: str) -> list[Record]:
    """Sources of `dataset` in `status`, locked."""
    return await conn.fetch(
        "SELECT * FROM sources WHERE dataset = $1 AND status = $2 ORDER BY id FOR UPDATE", dataset, status
    )


# --- runs: the work queue of the index workers ------------------------------------------------------------


async def live_run(conn: asyncpg.Connection, source_id: uuid.UUID) -> Record | None:
    return await conn.fetchrow("SELECT * FROM runs WHERE source_id = $1 AND state IN ('queued', 'running')", source_id)


async def run(db: Db, run_id: uuid.UUID) -> Record | None:
    return await db.fetchrow("SELECT * FROM runs WHERE id = $1", run_id)


async def insert_run(conn: asyncpg.Connection, run_id: uuid.UUID, source_id: uuid.UUID, request_id: str) -> None:
    await conn.execute(
        "INSERT INTO runs (id, source_id, request_id, state, index_name) VALUES ($1, $2, $3, 'queued', $4)",
        run_id,
        source_id,
        request_id,
        f"{source_id}/{run_id}",
    )
    await conn.execute("SELECT pg_notify('ingest_runs', $1)", str(run_id))


async def claim_run(conn: asyncpg.Connection, owner: str, lease_seconds: float) -> Record | None:
    """Take the oldest ready run that nobody holds (queued, or running with an expired lease)."""
    return await conn.fetchrow(
        """UPDATE runs SET state = 'running', lease_owner = $1, lease_until = now() + make_interval(secs => $2),
                  attempts = attempts + 1, started_at = coalesce(started_at, now())
           WHERE id = (
               SELECT id FROM runs
               WHERE state IN ('queued', 'running') AND not_before <= now()
                 AND (state = 'queued' OR lease_until < now())
               ORDER BY not_before, created_at
               FOR UPDATE SKIP LOCKED LIMIT 1)
           RETURNING *""",
        owner,
        lease_seconds,
    )


async def lock_run(conn: asyncpg.Connection, source_id: uuid.UUID, run_id: uuid.UUID, owner: str) -> Record | None:
    """The run, locked after its source, if `owner` still holds it; None if it was cancelled, finished
    or taken over."""
    await lock_source(conn, source_id)
    return await conn.fetchrow(
        "SELECT * FROM runs WHERE id = $1 AND state = 'running' AND lease_owner = $2 FOR UPDATE", run_id, owner
    )


async def save_plan(
    conn: asyncpg.Connection,
    run_id: uuid.UUID,
    *,
    revision: str | None,
    units: list[dict],
    columns: list[dict],
    splits: list[str],
    split_rows: dict[str, int],
    sampling_strategy: str,
    row_count: int,
    wanted_rows: int,
) -> None:
    await conn.execute(
        """UPDATE runs SET revision = $2, units = $3, columns = $4, splits = $5, sampling_strategy = $6,
                  row_count = $7, wanted_rows = $8, split_rows = $9
           WHERE id = $1""",
        run_id,
        revision,
        units,
        columns,
        splits,
        sampling_strategy,
        row_count,
        wanted_rows,
        split_rows,
    )


async def checkpoint(
    conn: asyncpg.Connection, run_id: uuid.UUID, *, units_done: int, rows: int, chunks: int, lease_seconds: float
) -> Record:
    return await conn.fetchrow(
        """UPDATE runs SET units_done = $2, rows_done = rows_done + $3, chunks_done = chunks_done + $4,
                  lease_until = now() + make_interval(secs => $5)
           WHERE id = $1 RETURNING *""",
        run_id,
        units_done,
        rows,
        chunks,
        lease_seconds,
    )


async def release_run(conn: asyncpg.Connection, run_id: uuid.UUID, delay_seconds: float, owner: str) -> None:
    """Give a run `owner` holds back to the queue, to be tried after `delay_seconds` (the catalog was down...)."""
    await conn.execute(
        """UPDATE runs SET state = 'queued', lease_owner = NULL, lease_until = NULL,
                  not_before = now() + make_interval(secs => $2)
           WHERE id = $1 AND state = 'running' AND lease_owner = $3""",
        run_id,
        delay_seconds,
        owner,
    )


async def renew_lease(conn: asyncpg.Connection, run_id: object, owner: str, lease_seconds: float) -> None:
    await conn.execute(
        """UPDATE runs SET lease_until = now() + make_interval(secs => $3)
           WHERE id = $1 AND state = 'running' AND lease_owner = $2""",
        run_id,
        owner,
        lease_seconds,
    )


async def finish_run(
    conn: asyncpg.Connection, run_id: uuid.UUID, state: str, error: str | None = None, error_code: str | None = None
) -> None:
    await conn.execute(
        """UPDATE runs SET state = $2, error = $3, error_code = $4, finished_at = now(),
                  lease_owner = NULL, lease_until = NULL
           WHERE id = $1""",
        run_id,
        state,
        error,
        error_code,
    )


async def cancel_runs(conn: asyncpg.Connection, source_id: uuid.UUID) -> list[Record]:
    """Cancel the source's live run (a worker running it stops at its next checkpoint)."""
    await lock_source(conn, source_id)
    return await conn.fetch(
        """UPDATE runs SET state = 'cancelled', finished_at = now(), lease_owner = NULL, lease_until = NULL
           WHERE source_id = $1 AND state IN ('queued', 'running') RETURNING *""",
        source_id,
    )


async def show_progress(conn: asyncpg.Connection, source_id: uuid.UUID, run: Record) -> None:
    """What the source record says while a run goes on (Nia's fields)."""
    await conn.execute(
        """UPDATE sources SET splits = $2, columns = $3, row_count = $4, sampling_strategy = $5,
                  indexed_row_count = $6, chunk_count = $7, updated_at = now()
           WHERE id = $1 AND index_name IS NULL""",
        source_id,
        run["splits"],
        run["columns"],
        run["row_count"],
        run["sampling_strategy"],
        run["rows_done"],
        run["chunks_done"],
    )


async def complete_source(conn: asyncpg.Connection, source_id: uuid.UUID, run: Record) -> str | None:
    """Swap the run's index in; returns the index it replaces (to drop once committed)."""
    previous = await conn.fetchval("SELECT index_name FROM sources WHERE id = $1", source_id)
    await conn.execute(
        """UPDATE sources SET status = 'completed', error = NULL, error_code = NULL, index_name = $2, revision = $3,
                  splits = $4, columns = $5, row_count = $6, sampling_strategy = $7, indexed_row_count = $8,
                  chunk_count = $9, split_rows = $10, updated_at = now()
           WHERE id = $1""",
        source_id,
        run["index_name"],
        run["revision"],
        run["splits"],
        run["columns"],
        run["row_count"],
        run["sampling_strategy"],
        run["rows_done"],
        run["chunks_done"],
        run["split_rows"],
    )
    return previous if previous != run["index_name"] else None


# --- listing and deleting sources --------------------------------------------------------------------------

VISIBLE = "(is_global OR requested_by = $1 OR $2)"  # private sources are their owner's (admins see all)

# Sources as the API shows them: with the progress of their live run, if any (at most one per source).
SOURCES_WITH_RUN = """
    (SELECT s.*, r.state AS run_state, r.rows_done AS run_rows_done, r.wanted_rows AS run_rows_to_index,
            r.units_done AS run_units_done, jsonb_array_length(r.units) AS run_units, r.started_at AS run_started_at
     FROM sources s LEFT JOIN runs r ON r.source_id = s.id AND r.state IN ('queued', 'running')) AS sources"""


async def visible_source(db: Db, source_id: uuid.UUID, user: str, sees_all: bool) -> Record | None:
    return await db.fetchrow(f"SELECT * FROM {SOURCES_WITH_RUN} WHERE id = $3 AND {VISIBLE}", user, sees_all, source_id)


async def visible_sources_of_dataset(db: Db, dataset: str, user: str, sees_all: bool) -> list[Record]:
    return await db.fetch(
        f"SELECT * FROM {SOURCES_WITH_RUN} WHERE dataset = $3 AND {VISIBLE} ORDER BY is_global DESC, created_at",
        user,
        sees_all,
        dataset,
    )


async def list_sources(
    db: Db, user: str, sees_all: bool, *, q: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[Record], int]:
    """A page of the sources `user` may see, newest first, and how many there are in all."""
    # `q` is text to find in the name, not a LIKE pattern: its '%' and '_' are themselves (as versioning's search).
    where = (
        f"{VISIBLE} AND ($3::text IS NULL OR strpos(lower(dataset), lower($3)) > 0)"
        " AND ($4::text IS NULL OR status = $4)"
    )
    rows = await db.fetch(
        f"""SELECT *, count(*) OVER () AS total FROM {SOURCES_WITH_RUN} WHERE {where}
            ORDER BY created_at DESC, id LIMIT $5 OFFSET $6""",
        user,
        sees_all,
        q,
        status,
        limit,
        offset,
    )
    total = (
        rows[0]["total"]
        if rows
        else await db.fetchval(f"SELECT count(*) FROM sources WHERE {where}", user, sees_all, q, status)
    )
    return rows, total


async def global_completed_sources(db: Db, limit: int) -> list[Record]:
    return await db.fetch(
        "SELECT * FROM sources WHERE is_global AND index_name IS NOT NULL ORDER BY updated_at DESC LIMIT $1", limit
    )


async def delete_source(conn: asyncpg.Connection, source_id: uuid.UUID) -> list[str]:
    """Delete the source (its runs go with it); the chunk indexes to drop once committed."""
    indexes = await conn.fetch(
        """SELECT index_name FROM runs WHERE source_id = $1 AND index_name IS NOT NULL
           UNION SELECT index_name FROM sources WHERE id = $1 AND index_name IS NOT NULL""",
        source_id,
    )
    await conn.execute("DELETE FROM sources WHERE id = $1", source_id)
    return [r["index_name"] for r in indexes]


# --- embedding (semantic search, services/ingest/embedder.py) -------------------------------------------


async def queue_embedding(conn: asyncpg.Connection, source_id: uuid.UUID, index_name: str) -> bool:
    """Queue the source's completed index for embedding (its earlier vectors belonged to an older index)."""
    done = await conn.fetchval(
        """UPDATE sources SET vector_status = 'queued', vector_index = $2, embedded_chunk_count = 0,
                  vector_error = NULL, vector_lease_owner = NULL, vector_lease_until = NULL
           WHERE id = $1 AND index_name = $2 AND vector_index IS DISTINCT FROM $2 RETURNING true""",
        source_id,
        index_name,
    )
    return bool(done)


async def claim_embedding(conn: asyncpg.Connection, owner: str, lease_seconds: float) -> Record | None:
    """Take a source whose index waits for embedding (queued, or embedding with an expired lease)."""
    return await conn.fetchrow(
        """UPDATE sources SET vector_status = 'embedding', vector_lease_owner = $1,
                  vector_lease_until = now() + make_interval(secs => $2)
           WHERE id = (
               SELECT id FROM sources
               WHERE vector_status = 'queued' OR (vector_status = 'embedding' AND vector_lease_until < now())
               ORDER BY updated_at FOR UPDATE SKIP LOCKED LIMIT 1)
           RETURNING *""",
        owner,
        lease_seconds,
    )


async def embedding_checkpoint(
    conn: asyncpg.Connection, source_id: uuid.UUID, owner: str, index_name: str, embedded: int, lease_seconds: float
) -> bool:
    """Record the chunks embedded so far and renew the lease; False if the work is no longer ours."""
    done = await conn.fetchval(
        """UPDATE sources SET embedded_chunk_count = $4, vector_lease_until = now() + make_interval(secs => $5)
           WHERE id = $1 AND vector_lease_owner = $2 AND vector_index = $3 AND vector_status = 'embedding'
           RETURNING true""",
        source_id,
        owner,
        index_name,
        embedded,
        lease_seconds,
    )
    return bool(done)


async def finish_embedding(
    conn: asyncpg.Connection, source_id: uuid.UUID, owner: str, index_name: str, status: str, error: str | None
) -> bool:
    done = await conn.fetchval(
        """UPDATE sources SET vector_status = $4, vector_error = $5, vector_lease_owner = NULL,
                  vector_lease_until = NULL
           WHERE id = $1 AND vector_lease_owner = $2 AND vector_index = $3 AND vector_status = 'embedding'
           RETURNING true""",
        source_id,
        owner,
        index_name,
        status,
        error,
    )
    return bool(done)
