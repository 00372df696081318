"""Thin views for a dataset's parquet files: `/api/datasets/{id}/parquet[/{config}[/{split}[/{n}.parquet]]]`.

Datasets stored as parquet are served from main's head; datasets stored as CSV, JSON Lines or JSON from
the shards their conversion committed to refs/convert/parquet (services/catalog/parquet_conversion.py).
Each listed URL redirects to the shard's `resolve` URL (at that commit, or at `refs%2Fconvert%2Fparquet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import asyncpg
from aiohttp import web

from services.catalog import parquet, store_conversions, store_files
from services.catalog.access import readable_repo, repo_url
from services.catalog.errors import catalog_error
from services.catalog.keys import BLOBS
from services.catalog.parquet_conversion import CONVERT_REF, SOURCE_SUFFIXES, readme_text
from services.catalog.revisions import resolve
from services.runtime.http import json_response
from services.runtime.keys import CONFIG, POOL

CONVERT_REV = quote(CONVERT_REF, safe="")  # how the Hub's shard redirects name the conversion


@dataclass(frozen=True)
class Shards:
    """A dataset's parquet files, config -> split -> paths, and the revision they are read at."""

    repo: asyncpg.Record
    rev: str
    commit: str
    """The commit the files are read at (main's head, or the conversion's commit)."""
    configs: dict[str, dict[str, list[str]]]
    errors: list[dict[str, str]]
    """Configs and splits of a conversion that could not be converted, and why."""


async def dataset_shards(request: web.Request) -> Shards:
    """Main's parquet files if it has any, else the shards its conversion committed to refs/convert/parquet."""
    repo = await readable_repo(request)
    pool = request.app[POOL]
    head = await resolve(pool, repo["id"], "main")
    files = await store_files.files(pool, repo["id"], head.sha)
    paths = [f["path"] for f in files]
    text = await readme_text(request.app[BLOBS], files)
    if configs := parquet.layout(paths, text):
        return Shards(repo, head.sha, head.sha, configs, [])
    conversion = await store_conversions.conversion(pool, repo["id"])
    if conversion is not None and conversion["converted_sha"] is not None:
        converted = await store_files.files(pool, repo["id"], conversion["converted_sha"])
        layout = converted_layout([f["path"] for f in converted])
        return Shards(repo, CONVERT_REV, conversion["converted_sha"], layout, conversion["errors"])
    name = f"{repo['namespace']}/{repo['name']}"
    if not parquet.layout(paths, text, SOURCE_SUFFIXES):
        why = f"{name} has no parquet, CSV, JSON Lines or JSON data files"
    elif conversion is None or conversion["pending"]:
        why = f"{name} is being converted to parquet; try again shortly"
    else:
        why = f"{name} could not be converted to parquet: {_reasons(conversion['errors'])}"
    raise catalog_error(404, "ParquetNotFound", why)


def converted_layout(paths: list[str]) -> dict[str, dict[str, list[str]]]:
    """config -> split -> shards of a refs/convert/parquet commit (`{config}/{split}/NNNN.parquet`)."""
    configs: dict[str, dict[str, list[str]]] = {}
    for path in sorted(paths):
        parts = path.split("/")
        if len(parts) == 3 and parts[2].endswith(".parquet"):
            configs.setdefault(parts[0], {}).setdefault(parts[1], []).append(path)
    return configs


def _reasons(errors: list[dict[str, str]], config: str | None = None, split: str | None = None) -> str:
    chosen = [
        e
        for e in errors
        if (config is None or e["config"] in (config, "")) and (split is None or e["split"] in (split, ""))
    ]
    return (
        "; ".join(f"{e['config']}/{e['split']}: {e['error']}" if e["config"] else e["error"] for e in chosen)
        or "no data files"
    )


def _urls(request: web.Request, repo: asyncpg.Record, config: str, split: str, files: list[str]) -> list[str]:
    base = request.app[CONFIG].http.url.rstrip("/")
    prefix = f"{base}/api/datasets/{repo['namespace']}/{repo['name']}/parquet/{config}/{split}"
    return [f"{prefix}/{n}.parquet" for n in range(len(files))]


def _pick(shards: Shards, config: str, split: str | None = None) -> dict[str, list[str]]:
    configs = shards.configs
    failed = [e for e in shards.errors if e["config"] == config and (split is None or e["split"] == split)]
    if failed and (config not in configs or (split is not None and split not in configs[config])):
        what = config if split is None else f"{config}/{split}"
        raise catalog_error(404, "ParquetNotFound", f"{what} could not be converted to parquet: {_reasons(failed)}")
    if config not in configs:
        raise catalog_error(404, "ParquetNotFound", f"no config {config!r}; there are: {', '.join(configs)}")
    if split is not None and split not in configs[config]:
        raise catalog_error(404, "ParquetNotFound", f"config {config!r} has no split {split!r}")
    return configs[config]


async def all_configs(request: web.Request) -> web.Response:
    """A dataset's parquet shards: config -> split -> shard URLs."""
    shards = await dataset_shards(request)
    return json_response(
        {
            c: {s: _urls(request, shards.repo, c, s, f) for s, f in splits.items()}
            for c, splits in shards.configs.items()
        }
    )


async def one_config(request: web.Request) -> web.Response:
    """The parquet shards of one config: split -> shard URLs."""
    shards = await dataset_shards(request)
    config = request.match_info["config"]
    return json_response({s: _urls(request, shards.repo, config, s, f) for s, f in _pick(shards, config).items()})


async def one_split(request: web.Request) -> web.Response:
    """The parquet shard URLs of one split of one config."""
    shards = await dataset_shards(request)
    config, split = request.match_info["config"], request.match_info["split"]
    return json_response(_urls(request, shards.repo, config, split, _pick(shards, config, split)[split]))


async def shard(request: web.Request) -> web.Response:
    """The n-th shard: a redirect to its file at main's head, or at refs/convert/parquet (as the Hub does)."""
    shards = await dataset_shards(request)
    config, split, n = request.match_info["config"], request.match_info["split"], int(request.match_info["n"])
    files = _pick(shards, config, split)[split]
    if n >= len(files):
        raise catalog_error(404, "ParquetNotFound", f"{config}/{split} has {len(files)} shards, not {n + 1}")
    # Returned, not raised, so that the outer middlewares add X-Request-Id to it like to any answer.
    return web.Response(
        status=302, headers={"Location": f"{repo_url(request, shards.repo)}/resolve/{shards.rev}/{files[n]}"}
    )
