"""The three services in one test process, on real HTTP, PostgreSQL and Kafka.

Each service runs as it does under `hubstream up`: its aiohttp app on a real
port, its outbox relay, and (for ingest) its worker consumers; only the
process boundary is gone, so a test can look at each piece.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from services.catalog import identity
from services.operator import catalog_connection, ensure_admin, ensure_service_accounts
from services.registry import SERVICE_NAMES, definition
from services.runtime.http import AccessLogger
from services.runtime.outbox import OutboxRelay
from services.runtime.resources import BackgroundTasks
from services.runtime.service import build_app, worker_deps
from services.runtime.settings import ServiceConfig
from tests.conftest import wait_until


@dataclass
class Stack:
    configs: dict[str, ServiceConfig]
    http: aiohttp.ClientSession
    admin_token: str

    def url(self, service: str, path: str) -> str:
        return self.configs[service].http.url + path

    async def call(
        self, method: str, service: str, path: str, *, token: str | None = None, header: str = "Authorization", **kw
    ) -> tuple[int, CIMultiDict[str], Any]:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers[header] = token if header == "X-API-KEY" else f"Bearer {token}"
        async with self.http.request(method, self.url(service, path), headers=headers, **kw) as response:
            body = await response.json(content_type=None) if response.content_length != 0 else None
            return response.status, CIMultiDict(response.headers), body

    async def token_works_on(self, service: str, token: str) -> bool:
        header = "X-API-KEY" if service == "versioning" else "Authorization"
        status, _, _ = await self.call("GET", service, "/no-such-route", token=token, header=header)
        return status != 401  # 404 once the token is known there


@pytest_asyncio.fixture
async def stack(make_config: Callable[[str], ServiceConfig]) -> AsyncIterator[Stack]:
    async with running_stack(make_config) as stack:
        yield stack


@asynccontextmanager
async def running_stack(make_config: Callable[[str], ServiceConfig]) -> AsyncIterator[Stack]:
    """The three services (APIs, relays, ingest worker) up, with the admin token known to all three."""
    configs = {name: make_config(name) for name in SERVICE_NAMES}
    # As `hubstream up` does before the workers start: ingest's service account and its saved token.
    await ensure_service_accounts(configs["ingest"].infra)
    async with AsyncExitStack() as resources:
        for name in SERVICE_NAMES:
            service = definition(name)
            server = TestServer(build_app(service, configs[name]), host="127.0.0.1", port=configs[name].http.port)
            await server.start_server(access_log_class=AccessLogger)  # the access log lines `serve` writes
            resources.push_async_callback(server.close)
            deps = await resources.enter_async_context(worker_deps(service, configs[name]))
            relay = OutboxRelay(
                deps.pool,
                deps.config.infra.kafka,
                deps.outbox,
                topic_prefix=deps.config.infra.topic_prefix,
                poll_interval=0.5,
            )
            runnables = {f"{name}-relay": relay.run}
            if service.worker_consumers is not None:
                consumers = await resources.enter_async_context(service.worker_consumers(deps))
                runnables.update({c.group: c.run for c in consumers})
            await resources.enter_async_context(BackgroundTasks(runnables))
        http = await resources.enter_async_context(aiohttp.ClientSession())
        token = await ensure_admin(configs["catalog"].infra, None)
        stack = Stack(configs, http, token)
        for name in ("ingest", "versioning"):  # the token reaches them through the identity topic

            async def known(name: str = name) -> bool:
                return await stack.token_works_on(name, token)

            await wait_until(known, timeout=30)
        yield stack


async def register_catalog_token(stack: Stack, user: str, token: str) -> None:
    """Make `token` a write token of catalog user `user` (created if new): e.g. the catalog token the
    versioning service was configured with (HUBSTREAM_VERSIONING_CATALOG_TOKEN) before the stack started."""
    conn, outbox = await catalog_connection(stack.configs["catalog"].infra)
    try:
        async with conn.transaction():
            await identity.create_user(conn, user)
            await identity.issue_token(conn, outbox, user, display_name="versioning", token=token)
    finally:
        await conn.close()
