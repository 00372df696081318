"""Index runs on real PostgreSQL, a real tantivy store and parquet served over real HTTP.

The catalog here is the small stand-in of tests/stand_in_catalog.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiohttp
import asyncpg
import pyarrow as pa
import pytest_asyncio
from aiokafka.structs import ConsumerRecord

from bench.ingest.static_catalog import StaticCatalog, serving, text_table
from contracts import wrap
from contracts.ingest import IndexRequested
from services.ingest import runs, store
from services.ingest.catalog_client import CatalogClient
from services.ingest.chunk_store import TantivyStore
from services.ingest.runs import RunDeps, RunExecutor
from services.ingest.shards import http_filesystem
from services.ingest.sources import cancel_index
from services.ingest.worker import RequestDeps, handle_index_requested
from services.registry import definition
from services.runtime import db, migrations
from services.runtime.consumer import Received
from services.runtime.outbox import Outbox
from tests.conftest import wait_until


@pytest_asyncio.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[StaticCatalog]:
    async with serving(tmp_path / "shards") as served:
        yield served


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrations.migrate(database_url, "ingest", definition("ingest").migrations())
    async with db.pool_context(database_url, "ingest") as pool:
        yield pool


@dataclass
class Harness:
    pool: asyncpg.Pool
    outbox: Outbox
    chunks: TantivyStore
    executor: Callable[..., RunExecutor]

    async def request(self, dataset: str, config: str | None = None) -> uuid.UUID:
        """What the worker's consumer does with an IndexRequested: queue a run (one transaction)."""
        event = IndexRequested(source_id=uuid.uuid4(), dataset=dataset, config=config)
        envelope = wrap(event, source="/elsewhere")
        record = ConsumerRecord("t", 0, 0, 0, 0, None, b"", None, 0, 0, ())
        async with self.pool.acquire() as conn, conn.transaction():
            await handle_index_requested(Received(envelope, event, record), conn, deps=RequestDeps(self.outbox))
        return event.source_id

    async def source(self, source_id: uuid.UUID) -> asyncpg.Record:
        row = await store.source(self.pool, source_id)
        assert row is not None
        return row

    async def events(self) -> list[str]:
        rows = await self.pool.fetch("SELECT event_type FROM outbox ORDER BY id")
        return [r["event_type"].removeprefix("hubstream.ingest.index.").removesuffix(".v1") for r in rows]


@pytest_asyncio.fixture
async def harness(pool: asyncpg.Pool, catalog: StaticCatalog, tmp_path: Path) -> AsyncIterator[Harness]:
    chunks = TantivyStore(tmp_path / "chunks")
    outbox = Outbox("ingest", "/hubstream/ingest")
    async with aiohttp.ClientSession() as session:
        client = CatalogClient(session, catalog.url)

        def executor(owner: str = "worker-1", sampling: bool = True) -> RunExecutor:
            deps = RunDeps(pool, outbox, client, chunks, partial(http_filesystem, None), sampling=sampling)
            return RunExecutor(deps, owner=owner)

        yield Harness(pool, outbox, chunks, executor)


async def test_a_multi_split_dataset_is_indexed_in_full_with_its_counts_and_events(harness: Harness, catalog) -> None:  # type: ignore[no-untyped-def]
    catalog.add("acme/fruit", "default", "train", text_table(2500))
    catalog.add("acme/fruit", "default", "train", text_table(1500, start=2500))
    catalog.add("acme/fruit", "default", "test", text_table(700))
    catalog.add("acme/fruit", "other", "train", text_table(10))
    source_id = await harness.request("acme/fruit")
    assert (await harness.source(source_id))["status"] == "processing"
    assert await harness.executor().run_one()
    source = await harness.source(source_id)
    assert source["status"] == "completed", source["error"]
    assert source["splits"] == ["train", "test"]
    assert source["columns"] == [
        {"name": "id", "dtype": "int64", "kind": "scalar"},
        {"name": "text", "dtype": "string", "kind": "text"},
        {"name": "label", "dtype": "int8", "kind": "scalar"},
    ]
    assert (source["row_count"], source["indexed_row_count"], source["sampling_strategy"]) == (4700, 4700, "full")
    assert source["chunk_count"] == 4700 == harness.chunks.count(source["index_name"])
    assert source["revision"] == "a" * 40
    hits = harness.chunks.search([source["index_name"]], "row3111", 3)
    assert [(h.split, h.row_index) for h in hits[:1]] == [("train", 3111)]
    events = await harness.events()
    assert events[0] == "started"
    assert events[-1] == "completed"
    assert set(events[1:-1]) <= {"progress"}
    assert not await harness.executor().run_one()  # nothing left to claim


async def test_over_200k_rows_a_reproducible_even_sample_of_100k_is_indexed(harness: Harness, catalog) -> None:  # type: ignore[no-untyped-def]
    n = 250_000
    catalog.add(
        "acme/big",
        "default",
        "train",
        pa.table({"text": [f"w{i % 977} r{i}" for i in range(n)]}),
        row_group_size=50_000,
    )
    source_id = await harness.request("acme/big")
    assert await harness.executor().run_one()
    source = await harness.source(source_id)
    assert (source["status"], source["sampling_strategy"]) == ("completed", "sampled")
    assert (source["row_count"], source["indexed_row_count"]) == (n, 100_000)
    assert harness.chunks.count(source["index_name"]) == 100_000
    # Every 2.5th row: row 5 is in (k=2), row 6 is not.
    assert [h.row_index for h in harness.chunks.search([source["index_name"]], "r5", 1)] == [5]
    assert harness.chunks.search([source["index_name"]], "r6", 1) == []


async def test_a_run_killed_mid_shard_resumes_from_its_checkpoint_with_no_chunk_lost_or_doubled(
    harness: Harness,
    catalog,  # type: ignore[no-untyped-def]
) -> None:
    catalog.add("acme/resume", "default", "train", text_table(10_000), row_group_size=1000)
    source_id = await harness.request("acme/resume")
    first = harness.executor(owner="doomed")
    stopping = asyncio.Event()
    original_checkpoint = store.checkpoint
    checkpoints = 0

    async def checkpoint_then_die(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal checkpoints
        checkpoints += 1
        if checkpoints == 4:
            # The store has committed unit 4; the worker dies before its checkpoint is recorded.
            raise ConnectionResetError("killed")
        return await original_checkpoint(*args, **kwargs)

    store.checkpoint = checkpoint_then_die  # type: ignore[assignment]
    try:
        await first.run_one(stopping)
    finally:
        store.checkpoint = original_checkpoint  # type: ignore[assignment]
    run = await harness.pool.fetchrow("SELECT * FROM runs WHERE source_id = $1", source_id)
    assert run["units_done"] == 3
    # The store holds 4 row groups: the 4th was committed without its checkpoint.
    assert harness.chunks.count(run["index_name"]) == 4000
    # The dead worker's lease runs out; another worker takes the run over.
    await harness.pool.execute(
        "UPDATE runs SET state = 'running', lease_until = now() - interval '1 second', not_before = now()"
    )
    assert await harness.executor(owner="successor").run_one()
    source = await harness.source(source_id)
    assert source["status"] == "completed", source["error"]
    assert source["chunk_count"] == 10_000 == harness.chunks.count(source["index_name"])
    rows = sorted(h.row_index for h in harness.chunks.search([source["index_name"]], "row3500", 10))
    assert rows == [3500]


async def test_a_missing_dataset_config_or_a_broken_shard_fails_the_source_with_a_reason(
    harness: Harness,
    catalog,  # type: ignore[no-untyped-def]
) -> None:
    catalog.add("acme/ok", "default", "train", text_table(10))
    catalog.add("acme/mixed", "default", "train", text_table(10))
    catalog.add("acme/mixed", "default", "train", pa.table({"other": [1, 2, 3]}))
    catalog.add("acme/broken", "default", "train", text_table(100))
    shard = catalog.folder / catalog.datasets["acme/broken"]["default"]["train"][0]
    shard.write_bytes(shard.read_bytes()[:-200])  # truncated: the footer is gone
    cases = {
        "acme/nothing": ("DatasetNotFound", "was not found"),
        "acme/mixed": ("ShardUnreadable", "unlike the other shards"),
        "acme/broken": ("ShardUnreadable", "not a readable parquet file"),
        "acme/odd": ("InternalError", "internal error"),  # never left `processing`
    }
    ids = {dataset: await harness.request(dataset) for dataset in cases}
    ids["acme/ok:nope"] = await harness.request("acme/ok", config="nope")
    cases["acme/ok:nope"] = ("ConfigNotFound", "has no config 'nope'; it has: default")
    executor = harness.executor()
    while await executor.run_one():
        pass
    for dataset, (code, words) in cases.items():
        source = await harness.source(ids[dataset])
        assert (source["status"], source["error_code"]) == ("failed", code), dataset
        assert words in source["error"], source["error"]


async def test_a_50_mb_cell_is_cut_into_chunks_not_a_crash(harness: Harness, catalog) -> None:  # type: ignore[no-untyped-def]
    huge = ("lorem ipsum dolor sit amet " * 2_000_000)[:50_000_000]
    catalog.add("acme/huge", "default", "train", pa.table({"text": [huge, "small row"]}))
    source_id = await harness.request("acme/huge")
    assert await harness.executor().run_one()
    source = await harness.source(source_id)
    assert source["status"] == "completed", source["error"]
    assert source["indexed_row_count"] == 2
    assert source["chunk_count"] > 50_000


async def test_an_unreachable_catalog_puts_the_run_back_with_a_delay(harness: Harness, pool: asyncpg.Pool) -> None:
    async with aiohttp.ClientSession() as session:
        deps = RunDeps(
            pool,
            harness.outbox,
            CatalogClient(session, "http://127.0.0.1:9"),
            harness.chunks,
            partial(http_filesystem, None),
        )
        source_id = await harness.request("acme/anything")
        assert await RunExecutor(deps).run_one()
    run = await pool.fetchrow("SELECT * FROM runs WHERE source_id = $1", source_id)
    assert run["state"] == "queued"
    assert await pool.fetchval("SELECT $1::timestamptz > now()", run["not_before"])
    assert (await harness.source(source_id))["status"] == "processing"


async def test_a_new_request_supersedes_a_live_run_and_reindexing_swaps_the_index(harness: Harness, catalog) -> None:  # type: ignore[no-untyped-def]
    catalog.add("acme/swap", "default", "train", text_table(100))
    source_id = await harness.request("acme/swap")
    assert await harness.executor().run_one()
    old_index = (await harness.source(source_id))["index_name"]
    catalog.add("acme/swap", "default", "train", text_table(50, start=100))
    event = IndexRequested(source_id=source_id, dataset="acme/swap")
    record = ConsumerRecord("t", 0, 0, 0, 0, None, b"", None, 0, 0, ())
    async with harness.pool.acquire() as conn, conn.transaction():
        await handle_index_requested(
            Received(wrap(event, source="/x"), event, record), conn, deps=RequestDeps(harness.outbox)
        )
    during = await harness.source(source_id)
    assert during["index_name"] == old_index  # search keeps the completed index while the new one builds
    assert await harness.executor().run_one()
    after = await harness.source(source_id)
    assert after["index_name"] != old_index
    assert after["chunk_count"] == 150 == harness.chunks.count(after["index_name"])
    assert harness.chunks.count(old_index) == 0  # dropped once swapped out


async def test_a_cancel_while_the_worker_shows_progress_stops_the_run_without_a_deadlock(
    harness: Harness,
    catalog,  # type: ignore[no-untyped-def]
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """A cancel locks the source and then its run; the worker's checkpoint used to lock the run and
    then the source (to show progress). Caught between the two, PostgreSQL aborted the cancel with
    a deadlock and the API answered 500. Here the cancel holds the source until the worker is
    seen waiting for a lock, and only then touches the run."""
    monkeypatch.setattr(runs, "PROGRESS_EVERY_SECONDS", 0.0)  # every checkpoint shows progress
    catalog.add("acme/cancel", "default", "train", text_table(40_000), row_group_size=500)
    source_id = await harness.request("acme/cancel")
    worker = asyncio.create_task(harness.executor().run_one())

    async def indexing() -> bool:
        return bool((await harness.source(source_id))["indexed_row_count"])

    await wait_until(indexing, interval=0.01)
    async with harness.pool.acquire() as conn, conn.transaction():
        source = await store.lock_source(conn, source_id)

        async def worker_waits_for_a_lock() -> bool:
            return bool(
                await conn.fetchval(
                    """SELECT count(*) FROM pg_stat_activity
                       WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"""
                )
            )

        await wait_until(worker_waits_for_a_lock, interval=0.01)
        assert [r["state"] for r in await store.cancel_runs(conn, source_id)] == ["cancelled"]
        await cancel_index(conn, harness.outbox, source, by="an operator")
    async with asyncio.timeout(30):
        assert await worker
    source = await harness.source(source_id)
    assert (source["status"], source["error_code"]) == ("failed", "Cancelled")
    assert (source["indexed_row_count"], source["chunk_count"]) == (0, 0)  # its index is dropped: none searchable
    run = await harness.pool.fetchrow("SELECT * FROM runs WHERE source_id = $1", source_id)
    assert run["state"] == "cancelled"
    assert 0 < run["rows_done"] < 40_000  # stopped part-way
    assert harness.chunks.count(run["index_name"]) == 0  # the worker dropped the half-built index
