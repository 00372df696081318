"""One index run of the corpus by the ingest worker's own code, in a process of its own (for its peak RSS).

Run by the benchmark as `python -m bench.ingest.worker_phase ...`: it queues a run the way the
IndexRequested handler does, lets `RunExecutor` do it (parquet over HTTP from the static catalog,
chunking, tantivy commits and PostgreSQL checkpoints per row group), and prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from functools import partial
from pathlib import Path

import aiohttp
import orjson

from bench.ingest.memory import PeakMemory
from services.ingest import store
from services.ingest.catalog_client import CatalogClient
from services.ingest.chunk_store import TantivyStore
from services.ingest.runs import RunDeps, RunExecutor
from services.ingest.shards import http_filesystem
from services.registry import definition
from services.runtime import db, migrations
from services.runtime.outbox import Outbox


async def run(database_url: str, catalog_url: str, chunk_dir: Path, dataset: str) -> dict:
    await migrations.migrate(database_url, "ingest", definition("ingest").migrations())
    async with db.pool_context(database_url, "ingest") as pool, aiohttp.ClientSession() as session:
        source_id, run_id = uuid.uuid4(), uuid.uuid4()
        async with pool.acquire() as conn, conn.transaction():
            await store.insert_source(
                conn, source_id=source_id, dataset=dataset, config=None, is_global=False, requested_by="bench"
            )
            await store.insert_run(conn, run_id, source_id, f"bench-{run_id}")
        outbox = Outbox("ingest", "/hubstream/bench")
        deps = RunDeps(
            pool,
            outbox,
            CatalogClient(session, catalog_url),
            TantivyStore(chunk_dir),
            partial(http_filesystem, None),
            sampling=False,
        )
        started = time.perf_counter()
        with PeakMemory() as memory:
            await RunExecutor(deps, owner="bench").run_one()
        seconds = time.perf_counter() - started
        source = await store.source(pool, source_id)
        assert source is not None
        if source["status"] != "completed":
            raise SystemExit(f"the run ended {source['status']}: {source['error']}")
        return {
            "seconds": seconds,
            "rows": source["indexed_row_count"],
            "chunks": source["chunk_count"],
            "index": source["index_name"],
            **memory.as_json(),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--catalog-url", required=True)
    parser.add_argument("--chunk-dir", type=Path, required=True)
    parser.add_argument("--dataset", required=True)
    args = parser.parse_args()
    result = asyncio.run(run(args.database_url, args.catalog_url, args.chunk_dir, args.dataset))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
