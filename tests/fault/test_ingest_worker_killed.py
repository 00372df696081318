"""Fault injection: the ingest worker process is SIGKILLed in the middle of a shard, and another takes over.

The run is resumed from its checkpoint once the dead worker's lease runs out: every row ends up
indexed exactly once (the chunk count equals the row count, in PostgreSQL and in the store).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.ingest.static_catalog import serving, text_table
from contracts import encode, wrap
from contracts.ingest import IndexRequested
from contracts.topics import INGEST_REQUESTS
from services.ingest.chunk_store import TantivyStore
from services.registry import definition
from services.runtime import db, migrations
from tests.conftest import wait_until

ROWS = 60_000


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "worker", "ingest"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def test_a_worker_killed_mid_shard_is_resumed_by_another_with_no_row_lost_or_doubled(
    database_url: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    await migrations.migrate(database_url, "ingest", definition("ingest").migrations())
    async with serving(tmp_path / "shards") as catalog, db.pool_context(database_url, "ingest") as pool:
        catalog.add("acme/killed", "default", "train", text_table(ROWS), row_group_size=250)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSTREAM_")}
        env.update(
            HUBSTREAM_DATABASE_URL=database_url,
            HUBSTREAM_KAFKA=kafka_bootstrap,
            HUBSTREAM_TOPIC_PREFIX=topic_prefix,
            HUBSTREAM_HOME=str(tmp_path / "home"),
            HUBSTREAM_CATALOG_URL=catalog.url,
            HUBSTREAM_INGEST_RUN_LEASE_SECONDS="3",
        )
        first = start_worker(env, tmp_path / "worker-1.log")
        source_id = uuid.uuid4()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            request = IndexRequested(source_id=source_id, dataset="acme/killed")
            await producer.send_and_wait(
                topic_prefix + INGEST_REQUESTS.name, encode(wrap(request, source="/test")), key=str(source_id).encode()
            )
        finally:
            await producer.stop()

        async def midway() -> bool:
            done = await pool.fetchval("SELECT units_done FROM runs WHERE source_id = $1", source_id)
            return bool(done and done >= 20)

        try:
            await wait_until(midway, timeout=120)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        killed_at = await pool.fetchval("SELECT units_done FROM runs WHERE source_id = $1", source_id)
        assert killed_at < ROWS // 250, "the run finished before the kill: nothing to resume"

        second = start_worker(env, tmp_path / "worker-2.log")
        try:

            async def completed() -> asyncpg.Record | None:
                row = await pool.fetchrow("SELECT * FROM sources WHERE id = $1", source_id)
                return row if row is not None and row["status"] in ("completed", "failed") else None

            source = await wait_until(completed, timeout=180)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        log = (tmp_path / "worker-2.log").read_text()
        assert source["status"] == "completed", source["error"]
        run = await pool.fetchrow("SELECT * FROM runs WHERE source_id = $1", source_id)
        assert run["attempts"] == 2  # claimed by the dead worker, then resumed by the second
        assert (source["indexed_row_count"], source["chunk_count"]) == (ROWS, ROWS), log[-3000:]
        store = TantivyStore(tmp_path / "home" / "chunks")
        assert store.count(source["index_name"]) == ROWS
        rows = store.rows(source["index_name"], "train", 0, ROWS, limit=ROWS + 100)
        assert sorted(h.row_index for h in rows) == list(range(ROWS))
