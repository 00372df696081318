"""A database with the runtime's tables (outbox, inbox) and an `effects` table handlers can write to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest_asyncio

from services.runtime import db, migrations

SCHEMA = "ingest"  # any schema with the runtime's tables will do


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    no_service_migrations = Path("/nonexistent")
    await migrations.migrate(
        database_url, SCHEMA, migrations.service_migrations(no_service_migrations, SCHEMA, token_copy=False)
    )
    async with db.pool_context(database_url, SCHEMA) as pool:
        await pool.execute("CREATE TABLE effects (dataset text NOT NULL)")
        yield pool
