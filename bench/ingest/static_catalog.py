"""A static catalog: the two dataset calls an ingest run makes, over real HTTP, for parquet files on disk.

It answers `GET /api/datasets/{id}` and `GET /api/datasets/{id}/parquet` in the Hub's shapes and
serves the shard files (aiohttp's static files answer Range requests). The ingest benchmark reads its
corpus through it, and tests of ingest alone use it; tests of the whole hub use the real catalog.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from aiohttp import web
from aiohttp.test_utils import TestServer

WORDS = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "honeydew", "kiwi", "lemon", "mango"]


@dataclass
class StaticCatalog:
    """Datasets as folders of parquet files: {dataset: {config: {split: [file names]}}}."""

    folder: Path
    url: str = ""
    datasets: dict[str, dict[str, dict[str, list[str]]]] = field(default_factory=dict)

    def add(self, dataset: str, config: str, split: str, table: pa.Table, *, row_group_size: int = 1000) -> None:
        files = self.datasets.setdefault(dataset, {}).setdefault(config, {}).setdefault(split, [])
        name = f"{dataset.replace('/', '--')}-{config}-{split}-{len(files)}.parquet"
        pq.write_table(table, self.folder / name, row_group_size=row_group_size)
        files.append(name)

    async def info(self, request: web.Request) -> web.Response:
        dataset = f"{request.match_info['owner']}/{request.match_info['name']}"
        if dataset == "acme/odd":
            return web.Response(text="{not json", content_type="application/json")  # a broken proxy, say
        if dataset not in self.datasets:
            return web.json_response({"error": "Repository not found"}, status=404)
        return web.json_response({"id": dataset, "sha": "a" * 40})

    async def parquet(self, request: web.Request) -> web.Response:
        dataset = f"{request.match_info['owner']}/{request.match_info['name']}"
        if dataset not in self.datasets:
            return web.json_response({"error": "Repository not found"}, status=404)
        listing = {
            config: {split: [f"{self.url}/files/{n}" for n in names] for split, names in splits.items()}
            for config, splits in self.datasets[dataset].items()
        }
        return web.json_response(listing)


@asynccontextmanager
async def serving(folder: Path) -> AsyncIterator[StaticCatalog]:
    """A StaticCatalog over `folder`, listening on a free port of 127.0.0.1 until the block ends."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    stand_in = StaticCatalog(folder)
    app = web.Application()
    app.router.add_get("/api/datasets/{owner}/{name}", stand_in.info)
    app.router.add_get("/api/datasets/{owner}/{name}/parquet", stand_in.parquet)
    app.router.add_static("/files", stand_in.folder)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    stand_in.url = str(server.make_url("")).rstrip("/")
    yield stand_in
    await server.close()


def text_table(n: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(start, start + n), pa.int64()),
            "text": [f"{WORDS[i % 11]} {WORDS[(i * 3) % 11]} row{i}" for i in range(start, start + n)],
            "label": pa.array([i % 3 for i in range(start, start + n)], pa.int8()),
        }
    )
