"""Thin view for `/api/datasets/{id}/croissant`: the dataset's Croissant JSON-LD, built from its parquet files
(services/catalog/croissant.py), with the columns read from each config's first parquet footer."""

from __future__ import annotations

import struct

import pyarrow as pa
import pyarrow.parquet as pq
from aiohttp import web

from services.catalog import croissant, store_files
from services.catalog.access import repo_url
from services.catalog.blobs import BlobStore
from services.catalog.errors import catalog_error
from services.catalog.keys import BLOBS
from services.catalog.parquet_views import CONVERT_REV, dataset_shards
from services.runtime.http import json_response
from services.runtime.keys import API, POOL

MAX_FOOTER_BYTES = 16 * 1024 * 1024
PARQUET_MAGIC = b"PAR1"


async def parquet_schema(blobs: BlobStore, sha256: str, size: int) -> pa.Schema:
    """The schema in a parquet file's footer, reading only the footer (a shard may be large)."""
    tail = b"".join([c async for c in blobs.read(sha256, max(0, size - 8), size)])
    if len(tail) != 8 or tail[4:] != PARQUET_MAGIC:
        raise ValueError("not a parquet file")
    (length,) = struct.unpack("<I", tail[:4])
    if length > min(MAX_FOOTER_BYTES, size - 12):
        raise ValueError(f"a parquet footer of {length} bytes")
    footer = b"".join([c async for c in blobs.read(sha256, size - 8 - length, size)])
    # The footer alone, framed as a file, is enough to read the schema (no column data is touched).
    return pq.read_schema(pa.BufferReader(PARQUET_MAGIC + footer))


async def croissant_view(request: web.Request) -> web.Response:
    """The dataset's Croissant 1.0 JSON-LD: its parquet files, and one record set per config."""
    shards = await dataset_shards(request)
    repo = shards.repo
    dataset_id = f"{repo['namespace']}/{repo['name']}"
    firsts = {config: next(iter(splits.values()))[0] for config, splits in shards.configs.items()}
    entries = {
        e["path"]: e
        for e in await store_files.files_at(request.app[POOL], repo["id"], shards.commit, list(firsts.values()))
    }
    schemas = {}
    for config, path in firsts.items():
        try:
            schemas[config] = await parquet_schema(request.app[BLOBS], entries[path]["sha256"], entries[path]["size"])
        except (ValueError, OSError, pa.ArrowException) as exc:
            raise catalog_error(404, "ParquetNotFound", f"{path} is not a readable parquet file: {exc}") from None
    card = repo["card_data"] if isinstance(repo["card_data"], dict) else {}
    license_ = card.get("license")
    url = repo_url(request, repo)
    return json_response(
        croissant.document(
            croissant.CroissantInput(
                dataset_id=dataset_id,
                url=url,
                tree_url=f"{url}/tree/{shards.rev}",
                description=str(card.get("pretty_name") or ""),
                license=f"https://choosealicense.com/licenses/{license_}/" if isinstance(license_, str) else None,
                configs=shards.configs,
                schemas=schemas,
                splits_in_paths=shards.rev == CONVERT_REV,
            )
        )
    )


def setup_croissant_routes(app: web.Application) -> None:
    app[API].get(
        "/api/{type:datasets}/{namespace}/{name}/croissant",
        croissant_view,
        ok=dict[str, object],
        errors={
            400: "An invalid repo id (InvalidName).",
            404: "No such dataset (RepoNotFound), or no parquet files for it yet (ParquetNotFound).",
        },
        summary="A dataset's Croissant JSON-LD (mlcommons.org/croissant/1.0), built from its parquet files",
    )
