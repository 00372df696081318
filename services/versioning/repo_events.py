"""How versioning follows the catalog's dataset repos."""

from __future__ import annotations

import asyncpg

from contracts.catalog import RepoCreated, RepoDeleted
from services.runtime.consumer import Received
from services.versioning import store


async def on_repo_created(message: Received[RepoCreated], conn: asyncpg.Connection) -> None:
    e = message.data
    if e.repo_type == "dataset":
        await store.upsert_catalog_dataset(conn, e.repo_id, private=e.private, author=e.author)


async def on_repo_deleted(message: Received[RepoDeleted], conn: asyncpg.Connection) -> None:
    if message.data.repo_type == "dataset":
        await store.delete_catalog_dataset(conn, message.data.repo_id)
