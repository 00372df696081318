"""How ingest follows the catalog's repos.

- A dataset repo created: sources that failed because it did not exist yet
  are asked again, so "index it" before "upload it" works out.
- A dataset repo updated: completed sources of it are re-indexed.
"""

from __future__ import annotations

import asyncpg

from contracts.catalog import RepoCreated, RepoUpdated
from services.ingest import store
from services.ingest.sources import re_request
from services.runtime.consumer import Received
from services.runtime.outbox import Outbox


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
