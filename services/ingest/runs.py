"""Index runs: planned from the parquet footers, then row group by row group into the chunk store.

A run lives in PostgreSQL (`runs`), not in the consumer's poll loop: the IndexRequested handler
only queues it, and a `RunExecutor` in each worker process claims one ready run at a time
(`FOR UPDATE SKIP LOCKED`, with a lease it renews at each checkpoint). A run of hours holds no
Kafka partition; more worker processes run more sources at once; a worker that dies leaves its
lease to expire and another worker (or itself, restarted) resumes the run from its checkpoint.

Per unit (one row group of one shard): read it (only the sampled rows are kept), cut the rows into
chunks, write and commit them to the store, then record the checkpoint in PostgreSQL with the
counts and, at most every few seconds, an IndexProgress event. On resume the unit after the
checkpoint is first deleted from the store (it may have been committed there before the crash
took the checkpoint with it), so no chunk is lost or doubled.

A run ends completed (the source's index is swapped to this run's in the same transaction as
IndexCompleted, so search never sees a half-built index), failed (a reason in words: the dataset
does not exist, a shard is corrupt...), or cancelled. When the catalog cannot be reached the run
goes back to the queue with a growing delay, and fails after `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import fsspec

from contracts.ingest import IndexCompleted, IndexFailed, IndexProgress
from services.ingest import sampling, store
from services.ingest.catalog_client import CatalogClient, CatalogUnavailable
from services.ingest.chunk_store import ChunkStore, ChunkWriter, IndexBusy
from services.ingest.chunking import Column, ColumnKind, chunks_of_batch, columns_of
from services.ingest.errors import FailureCode
from services.ingest.shards import ShardError, ShardReader, Unit, plan_units
from services.runtime.consumer import INFRASTRUCTURE_ERRORS
from services.runtime.outbox import Outbox
from services.runtime.service_accounts import INGEST

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 30.0
PROGRESS_EVERY_SECONDS = 2.0
IDLE_POLL_SECONDS = 2.0
MAX_ATTEMPTS = 8


class RunFailed(Exception):
    def __init__(self, code: FailureCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class RetryLater(Exception):
    """Hand the run back to the queue without counting an attempt (the worker stops, the index is busy)."""


class RunStopped(Exception):
    """The run was cancelled or taken over by another worker: stop without touching it."""


@dataclass(frozen=True)
class RunDeps:
    pool: asyncpg.Pool
    outbox: Outbox
    catalog: CatalogClient
    chunks: ChunkStore
    filesystem: Callable[[], fsspec.AbstractFileSystem]
    sampling: bool = True
    # How long a run stays a dead worker's before another takes it over; renewed four times as often.
    lease_seconds: float = DEFAULT_LEASE_SECONDS


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RunExecutor:
    """Claims ready runs one at a time and carries each to its end (a background task of the worker)."""

    group = "ingest-runs"  # the name it is supervised under

    def __init__(self, deps: RunDeps, owner: str | None = None) -> None:
        self.deps = deps
        self.owner = owner or worker_name()

    async def run(self, stopping: asyncio.Event) -> None:
        wake = asyncio.Event()

        def notified(*_: object) -> None:
            wake.set()

        async with self.deps.pool.acquire() as listener:
            # A queued run wakes us at once; the poll catches expired leases and retries that came due.
            await listener.add_listener("ingest_runs", notified)
            try:
                while not stopping.is_set():
                    wake.clear()
                    if not await self.run_one(stopping):
                        await _wait_either(stopping, wake, IDLE_POLL_SECONDS)
            finally:
                await listener.remove_listener("ingest_runs", notified)

    async def run_one(self, stopping: asyncio.Event | None = None) -> bool:
        """Claim and execute one ready run; False when there was none."""
        async with self.deps.pool.acquire() as conn, conn.transaction():
            claimed = await store.claim_run(conn, self.owner, self.deps.lease_seconds)
        if claimed is None:
            return False
        await self.execute(claimed, stopping or asyncio.Event())
        return True

    async def execute(self, run: asyncpg.Record, stopping: asyncio.Event) -> None:
        source = await store.source(self.deps.pool, run["source_id"])
        assert source is not None  # runs are deleted with their source
        label = f"{source['dataset']} (source {source['id']}, run {run['id']})"
        try:
            if run["units"] is None:
                run = await self._plan(run, source)
            await self._index(run, source, stopping)
        except RunStopped:
            current = await store.run(self.deps.pool, run["id"])
            if current is not None and current["state"] == "cancelled":
                log.info("indexing %s stopped: the run was cancelled", label)
                await asyncio.to_thread(self.deps.chunks.drop, run["index_name"])
            else:
                log.info("indexing %s stopped: another worker took the run over", label)
        except RunFailed as failure:
            await self._fail(run, source, failure.code, str(failure))
        except RetryLater as exc:
            await self._retry_later(run, label, exc, count_attempt=False)
        except (CatalogUnavailable, *INFRASTRUCTURE_ERRORS) as exc:
            await self._retry_later(run, label, exc)
        except Exception as exc:
            log.exception("indexing %s stopped on an internal error", label)
            await self._fail(
                run, source, "InternalError", f"indexing stopped on an internal error ({exc!r}); ask again"
            )

    # --- planning -------------------------------------------------------------------------------------------

    async def _plan(self, run: asyncpg.Record, source: asyncpg.Record) -> asyncpg.Record:
        dataset, config = source["dataset"], source["config"]
        status, info = await self.deps.catalog.dataset_info(dataset)
        if status in (401, 403):
            raise RunFailed(
                "CatalogError",
                f"the catalog refused ingest's service token ({status}: {info}): it was revoked or is unknown; "
                f"`hubstream up` issues a new one (see `hubstream tokens list {INGEST.name}`)",
            )
        if status == 404 or (isinstance(info, dict) and info.get("private") is True and not _may_read_private(source)):
            # The service account reads every repo: a private dataset is indexed only for a source whose
            # requester the API saw read it. Said exactly as a missing one, so nothing about it leaks.
            raise RunFailed("DatasetNotFound", f"dataset {dataset} was not found on the catalog (or is private)")
        if status >= 400:
            raise RunFailed("CatalogError", f"the catalog answered {status} for dataset {dataset}: {info}")
        status, listing = await self.deps.catalog.parquet_files(dataset)
        if status == 404 or (status < 400 and not listing):
            raise RunFailed(
                "ParquetUnavailable", f"the catalog has dataset {dataset} but serves no parquet files for it"
            )
        if status >= 400 or not isinstance(listing, dict):
            raise RunFailed("CatalogError", f"the catalog answered {status} for the parquet files of {dataset}")
        chosen = _choose_config(listing, config, dataset)
        shards = {(chosen, split): urls for split, urls in listing[chosen].items()}
        try:
            units, schema = await asyncio.to_thread(plan_units, self.deps.filesystem(), shards)
        except ShardError as exc:
            raise RunFailed("ShardUnreadable", f"dataset {dataset}: {exc}") from exc
        total = sum(u.num_rows for u in units)
        plan = sampling.plan(total, sampling=self.deps.sampling)
        columns = columns_of(schema)
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if await store.lock_run(conn, source["id"], run["id"], self.owner) is None:
                raise RunStopped
            await store.save_plan(
                conn,
                run["id"],
                revision=info.get("sha") if isinstance(info, dict) else None,
                units=[u.as_json() for u in units],
                columns=[{"name": c.name, "dtype": c.dtype, "kind": c.kind.value} for c in columns],
                splits=list(dict.fromkeys(split for _, split in shards)),
                split_rows={split: sum(u.num_rows for u in units if u.split == split) for _, split in shards},
                sampling_strategy=plan.strategy,
                row_count=total,
                wanted_rows=plan.wanted_rows,
            )
            await store.describe(conn, source["id"], *_description_and_license(info))
            planned = await store.run(conn, run["id"])
            await store.show_progress(conn, source["id"], planned)
        assert planned is not None
        log.info(
            "indexing %s: %d rows in %d row groups (%s, %d rows to index)",
            dataset,
            total,
            len(units),
            plan.strategy,
            plan.wanted_rows,
        )
        return planned

    # --- indexing -------------------------------------------------------------------------------------------

    async def _index(self, run: asyncpg.Record, source: asyncpg.Record, stopping: asyncio.Event) -> None:
        units = [Unit(**u) for u in run["units"]]
        columns = [Column(c["name"], c["dtype"], ColumnKind(c["kind"])) for c in run["columns"]]
        plan = sampling.SamplePlan(run["sampling_strategy"], run["row_count"], run["wanted_rows"])
        try:
            writer = await asyncio.to_thread(self.deps.chunks.writer, run["index_name"])
        except IndexBusy as exc:
            # A worker whose lease ran out is still writing this index: let it notice and stop first.
            raise RetryLater(str(exc)) from exc
        reader = ShardReader(self.deps.filesystem())
        last_progress = 0.0
        heartbeat = asyncio.create_task(self._heartbeat(run["id"]))
        try:
            done = run["units_done"]
            if done < len(units):
                # Committed to the store before a crash took its checkpoint: write it again, once.
                await asyncio.to_thread(writer.remove_unit, units[done].name)
            while done < len(units):
                if stopping.is_set():
                    raise RetryLater("the worker is stopping")  # another worker resumes from the checkpoint
                unit = units[done]
                rows, chunks = await asyncio.to_thread(_write_unit, reader, writer, unit, columns, plan)
                done += 1
                async with self.deps.pool.acquire() as conn, conn.transaction():
                    if await store.lock_run(conn, source["id"], run["id"], self.owner) is None:
                        raise RunStopped
                    run = await store.checkpoint(
                        conn,
                        run["id"],
                        units_done=done,
                        rows=rows,
                        chunks=chunks,
                        lease_seconds=self.deps.lease_seconds,
                    )
                    if time.monotonic() - last_progress >= PROGRESS_EVERY_SECONDS or done == len(units):
                        last_progress = time.monotonic()
                        await store.show_progress(conn, source["id"], run)
                        await self.deps.outbox.add(conn, _counts(IndexProgress, source, run))
        finally:
            heartbeat.cancel()
            reader.close()
            await asyncio.to_thread(writer.close)  # also on errors: a retry in this process needs the lock
        await self._complete(run, source)

    async def _heartbeat(self, run_id: object) -> None:
        """Keep the lease while one unit takes long (a huge row group), so nobody takes the run over."""
        while True:
            await asyncio.sleep(self.deps.lease_seconds / 4)
            async with self.deps.pool.acquire() as conn:
                await store.renew_lease(conn, run_id, self.owner, self.deps.lease_seconds)

    async def _complete(self, run: asyncpg.Record, source: asyncpg.Record) -> None:
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if await store.lock_run(conn, source["id"], run["id"], self.owner) is None:
                raise RunStopped
            await store.finish_run(conn, run["id"], "completed")
            replaced = await store.complete_source(conn, source["id"], run)
            await self.deps.outbox.add(
                conn, _counts(IndexCompleted, source, run, sampling_strategy=run["sampling_strategy"])
            )
        log.info(
            "indexed %s: %d of %d rows, %d chunks",
            source["dataset"],
            run["rows_done"],
            run["row_count"],
            run["chunks_done"],
        )
        if replaced:
            await asyncio.to_thread(self.deps.chunks.drop, replaced)

    # --- endings --------------------------------------------------------------------------------------------

    async def _fail(self, run: asyncpg.Record, source: asyncpg.Record, code: FailureCode, reason: str) -> None:
        log.warning("indexing %s (source %s) failed: %s", source["dataset"], source["id"], reason)
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if await store.lock_run(conn, source["id"], run["id"], self.owner) is None:
                return
            await store.finish_run(conn, run["id"], "failed", reason, code)
            await store.mark_failed(conn, source["id"], reason, code)
            await self.deps.outbox.add(
                conn,
                IndexFailed(source_id=source["id"], dataset=source["dataset"], error=reason, error_code=code),
            )
        await asyncio.to_thread(self.deps.chunks.drop, run["index_name"])

    async def _retry_later(
        self, run: asyncpg.Record, label: str, exc: BaseException, *, count_attempt: bool = True
    ) -> None:
        if not count_attempt:
            async with self.deps.pool.acquire() as conn:
                await store.release_run(conn, run["id"], 0.0 if "stopping" in str(exc) else 10.0, self.owner)
            log.info("indexing %s handed back to the queue: %s", label, exc)
            return
        if run["attempts"] >= MAX_ATTEMPTS:
            source = await store.source(self.deps.pool, run["source_id"])
            assert source is not None
            await self._fail(run, source, "CatalogUnavailable", f"gave up after {run['attempts']} attempts: {exc}")
            return
        delay = min(60.0, 2.0 ** run["attempts"])
        log.warning("indexing %s paused: %s; trying again in %.0f s", label, exc, delay)
        async with self.deps.pool.acquire() as conn:
            await store.release_run(conn, run["id"], delay, self.owner)


def _may_read_private(source: asyncpg.Record) -> bool:
    """A private dataset's rows go only into a source its requester alone sees, and was shown to read."""
    return source["reader_checked"] and not source["is_global"]


def _choose_config(listing: dict, config: str | None, dataset: str) -> str:
    if config is not None:
        if config not in listing:
            raise RunFailed(
                "ConfigNotFound", f"dataset {dataset} has no config {config!r}; it has: {', '.join(sorted(listing))}"
            )
        return config
    return "default" if "default" in listing else sorted(listing)[0]


def _description_and_license(info: object) -> tuple[str | None, str | None]:
    """What the dataset's info (its card's metadata) says it is and under which license, as Nia's record has them."""
    if not isinstance(info, dict):
        return None, None
    card = info.get("cardData") if isinstance(info.get("cardData"), dict) else {}
    description = info.get("description") or card.get("pretty_name")
    license = card.get("license")
    if isinstance(license, list):  # the card may list several
        license = ", ".join(str(x) for x in license) or None
    return (
        description.strip() or None if isinstance(description, str) else None,
        license if isinstance(license, str) and license else None,
    )


def _write_unit(
    reader: ShardReader, writer: ChunkWriter, unit: Unit, columns: list[Column], plan: sampling.SamplePlan
) -> tuple[int, int]:
    """Read, chunk and commit one unit (in a thread: pyarrow and tantivy release the event loop).

    The row group is read a batch at a time (memory: one batch of rows) and committed once, as a unit."""
    picked = sampling.rows_in_range(plan, unit.first_row, unit.first_row + unit.num_rows)
    if picked == []:
        return 0, 0  # no sampled row in this row group: not even read
    chunks, offset = 0, 0
    for batch in reader.batches(unit, [c.name for c in columns]):
        rows = None if picked is None else [r - offset for r in picked if offset <= r < offset + batch.num_rows]
        if rows != []:
            chunks += writer.add(
                unit.name,
                chunks_of_batch(batch, columns, split=unit.split, first_row=unit.first_row + offset, rows=rows),
            )
        offset += batch.num_rows
    writer.commit()
    return (unit.num_rows if picked is None else len(picked)), chunks


def _counts(event: type, source: asyncpg.Record, run: asyncpg.Record, **extra: object):  # type: ignore[no-untyped-def]
    return event(
        source_id=source["id"],
        row_count=run["row_count"] or 0,
        indexed_row_count=run["rows_done"],
        chunk_count=run["chunks_done"],
        **extra,
    )


async def _wait_either(stopping: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.create_task(stopping.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
