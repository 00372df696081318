"""Thin views for a dataset's parquet files: `/api/datasets/{id}/parquet[/{config}[/{split}[/{n}.parquet]]]`.

Served for datasets stored as parquet, from main's head; each listed URL
redirects to the shard's `resolve` URL at that commit.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from services.catalog import parquet, store_files
from services.catalog.access import readable_repo, repo_url
from services.catalog.errors import catalog_error
from services.catalog.keys import BLOBS
from services.catalog.revisions import resolve
from services.runtime.http import json_response
from services.runtime.keys import CONFIG, POOL

MAX_README_BYTES = 1024 * 1024


async def _layout(request: web.Request) -> tuple[asyncpg.Record, str, dict[str, dict[str, list[str]]]]:
    repo = await readable_repo(request)
    pool = request.app[POOL]
    head = await resolve(pool, repo["id"], "main")
    files = await store_files.files(pool, repo["id"], head.sha)
    readme = next((f for f in files if f["path"] == "README.md"), None)
    text = None
    if readme is not None and readme["size"] <= MAX_README_BYTES:
        text = b"".join([c async for c in request.app[BLOBS].read(readme["sha256"])]).decode("utf-8", "replace")
    configs = parquet.layout([f["path"] for f in files], text)
    if not configs:
        raise catalog_error(
            404,
            "ParquetNotFound",
            f"{repo['namespace']}/{repo['name']} has no parquet files: only datasets stored as parquet are listed",
        )
    return repo, head.sha, configs


def _urls(request: web.Request, repo: asyncpg.Record, config: str, split: str, files: list[str]) -> list[str]:
    base = request.app[CONFIG].http.url.rstrip("/")
    prefix = f"{base}/api/datasets/{repo['namespace']}/{repo['name']}/parquet/{config}/{split}"
    return [f"{prefix}/{n}.parquet" for n in range(len(files))]


def _pick(configs: dict[str, dict[str, list[str]]], config: str, split: str | None = None) -> dict[str, list[str]]:
    if config not in configs:
        raise catalog_error(404, "ParquetNotFound", f"no config {config!r}; there are: {', '.join(configs)}")
    if split is not None and split not in configs[config]:
        raise catalog_error(404, "ParquetNotFound", f"config {config!r} has no split {split!r}")
    return configs[config]


async def all_configs(request: web.Request) -> web.Response:
    """A dataset's parquet shards: config -> split -> shard URLs."""
    repo, _, configs = await _layout(request)
    return json_response(
        {c: {s: _urls(request, repo, c, s, f) for s, f in splits.items()} for c, splits in configs.items()}
    )


async def one_config(request: web.Request) -> web.Response:
    """The parquet shards of one config: split -> shard URLs."""
    repo, _, configs = await _layout(request)
    config = request.match_info["config"]
    return json_response({s: _urls(request, repo, config, s, f) for s, f in _pick(configs, config).items()})


async def one_split(request: web.Request) -> web.Response:
    """The parquet shard URLs of one split of one config."""
    repo, _, configs = await _layout(request)
    config, split = request.match_info["config"], request.match_info["split"]
    return json_response(_urls(request, repo, config, split, _pick(configs, config, split)[split]))


async def shard(request: web.Request) -> web.Response:
    """The n-th shard: a redirect to its file at main's head (the Hub redirects too)."""
    repo, sha, configs = await _layout(request)
    config, split, n = request.match_info["config"], request.match_info["split"], int(request.match_info["n"])
    files = _pick(configs, config, split)[split]
    if n >= len(files):
        raise catalog_error(404, "ParquetNotFound", f"{config}/{split} has {len(files)} shards, not {n + 1}")
    # Returned, not raised, so that the outer middlewares add X-Request-Id to it like to any answer.
    return web.Response(status=302, headers={"Location": f"{repo_url(request, repo)}/resolve/{sha}/{files[n]}"})
