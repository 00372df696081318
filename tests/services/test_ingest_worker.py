"""The ingest worker always closes a run: a source never stays `processing` after an unexpected answer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiokafka.structs import ConsumerRecord

from contracts import wrap
from contracts.ingest import IndexRequested
from services.ingest import store
from services.ingest.catalog_client import CatalogClient
from services.ingest.worker import IndexDeps, handle_index_requested
from services.registry import definition
from services.runtime import db, migrations
from services.runtime.consumer import Received
from services.runtime.outbox import Outbox


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrations.migrate(database_url, "ingest", definition("ingest").migrations())
    async with db.pool_context(database_url, "ingest") as pool:
        yield pool


async def odd_catalog(request: web.Request) -> web.Response:
    return web.Response(text="{not json", content_type="application/json")  # a broken proxy, say


async def test_an_unexpected_catalog_answer_fails_the_source_instead_of_leaving_it_processing(
    pool: asyncpg.Pool,
) -> None:
    app = web.Application()
    app.router.add_get("/api/datasets/{owner}/{name}", odd_catalog)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            deps = IndexDeps(
                pool, Outbox("ingest", "/hubstream/ingest"), CatalogClient(session, str(server.make_url("")))
            )
            request = IndexRequested(source_id=uuid.uuid4(), dataset="owner/odd")
            envelope = wrap(request, source="/elsewhere")
            record = ConsumerRecord("t", 0, 0, 0, 0, None, b"", None, 0, 0, ())
            await handle_index_requested(Received(envelope, request, record), deps)
            await handle_index_requested(Received(envelope, request, record), deps)  # redelivered: a no-op
    finally:
        await server.close()
    source = await store.source(pool, request.source_id)
    assert (source["status"], source["error_code"]) == ("failed", "InternalError")
    assert "internal error" in source["error"]
    types = [r["event_type"] for r in await pool.fetch("SELECT event_type FROM outbox ORDER BY id")]
    assert types == ["hubstream.ingest.index.started.v1", "hubstream.ingest.index.failed.v1"]
