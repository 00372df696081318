"""How ingest follows the catalog's repos.

- A dataset repo created: sources that failed because it did not exist yet
  are asked again, so "index it" before "upload it" works out.
- A dataset repo updated: completed sources of it are re-indexed; when the catalog's parquet conversion
  (`refs/convert/parquet`) moved, sources that failed for want of parquet files are asked again too, so
  "index it" right after uploading a CSV or JSON Lines dataset works out once the conversion lands.
- A dataset repo deleted: its sources are deleted, their runs stopped and their chunks dropped.
"""

from __future__ import annotations

import asyncio

import asyncpg

from contracts.catalog import RepoCreated, RepoDeleted, RepoUpdated
from services.ingest import store
from services.ingest.chunk_store import ChunkStore
from services.ingest.sources import re_request
from services.runtime.consumer import Received
from services.runtime.outbox import Outbox

# Where the catalog's conversion worker commits the parquet shards of CSV / JSON datasets.
CONVERTED_REF = "refs/convert/parquet"


async def on_repo_created(message: Received[RepoCreated], conn: asyncpg.Connection, *, outbox: Outbox) -> None:
    if message.data.repo_type != "dataset":
        return
    for row in await store.failed_sources_of(conn, message.data.repo_id, "DatasetNotFound"):
        await re_request(conn, outbox, row, requested_by="hubstream.catalog.repo.created")


async def on_repo_updated(message: Received[RepoUpdated], conn: asyncpg.Connection, *, outbox: Outbox) -> None:
    if message.data.repo_type != "dataset":
        return
    for row in await store.sources_in_status(conn, message.data.repo_id, "completed"):
        await re_request(conn, outbox, row, requested_by="hubstream.catalog.repo.updated")
    if any(ref.ref == CONVERTED_REF and ref.new_sha for ref in message.data.updated_refs):
        for row in await store.failed_sources_of(conn, message.data.repo_id, "ParquetUnavailable"):
            await re_request(conn, outbox, row, requested_by="hubstream.catalog.repo.updated")


async def on_repo_deleted(message: Received[RepoDeleted], conn: asyncpg.Connection, *, chunks: ChunkStore) -> None:
    if message.data.repo_type != "dataset":
        return
    for row in await store.sources_of(conn, message.data.repo_id):
        await store.cancel_runs(conn, row["id"])
        # Dropped before the commit: if the commit fails the event comes again and finds the sources
        # still there, with nothing left to search, and deletes them then.
        for index in await store.delete_source(conn, row["id"]):
            await asyncio.to_thread(chunks.drop, index)
