"""The versioning service as `hubstream up` runs it (API, outbox relay, delta worker), on real HTTP,
PostgreSQL and Kafka, with one token in its token copy (the catalog is not needed to test it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest_asyncio
from aiohttp.test_utils import TestServer

from services.registry import definition
from services.runtime.auth import new_token, token_sha256
from services.runtime.outbox import OutboxRelay
from services.runtime.resources import BackgroundTasks
from services.runtime.service import build_app, worker_deps
from services.runtime.settings import ServiceConfig


@dataclass
class Versioning:
    config: ServiceConfig
    pool: asyncpg.Pool
    http: aiohttp.ClientSession
    token: str

    @property
    def base_url(self) -> str:
        """What Humanloop clients are given as `base_url`."""
        return self.config.http.url + "/v5"

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        headers = {"X-API-KEY": self.token, **kw.pop("headers", {})}
        async with self.http.request(method, self.base_url + path, headers=headers, **kw) as response:
            raw = await response.read()
            body = (
                await response.json(content_type=None) if raw and response.content_type == "application/json" else raw
            )
            return response.status, body, response.headers

    async def snapshot(self) -> list[tuple[Any, ...]]:
        """Every stored version with its contents: what bad input must leave unchanged."""
        rows = await self.pool.fetch(
            """SELECT v.id, v.status, v.datapoints_count, v.version_name, v.commit_message,
                      array(SELECT m.datapoint FROM membership m WHERE m.dataset = v.dataset
                            AND m.from_seq <= v.seq AND m.to_seq > v.seq ORDER BY 1) AS members
               FROM versions v ORDER BY v.pk"""
        )
        return [tuple(r) for r in rows]


@pytest_asyncio.fixture
async def versioning(make_config: Callable[[str], ServiceConfig]) -> AsyncIterator[Versioning]:
    config = make_config("versioning")
    service = definition("versioning")
    async with AsyncExitStack() as resources:
        server = TestServer(build_app(service, config), host="127.0.0.1", port=config.http.port)
        await server.start_server()
        resources.push_async_callback(server.close)
        deps = await resources.enter_async_context(worker_deps(service, config))
        relay = OutboxRelay(deps.pool, config.infra.kafka, deps.outbox, topic_prefix=config.infra.topic_prefix)
        consumers = await resources.enter_async_context(service.worker_consumers(deps))  # type: ignore[misc]
        await resources.enter_async_context(
            BackgroundTasks({"relay": relay.run, **{c.group: c.run for c in consumers}})
        )
        token = new_token()
        await deps.pool.execute(
            "INSERT INTO known_tokens (token_sha256, token_id, user_name, role, created_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            token_sha256(token),
            "tok-1",
            "alice",
            "write",
            datetime.now(UTC),
        )
        http = await resources.enter_async_context(aiohttp.ClientSession())
        yield Versioning(config, deps.pool, http, token)
