"""PostgreSQL going away under a running service: 503 with Retry-After, never a 500, never half a write.

Each test runs a service's real app on a real port against a PostgreSQL
cluster of its own (deploy/postgres.py `temporary`), so crashing it touches no
one else, and the shared Kafka broker under the test's own topic prefix.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy
from prometheus_client.parser import text_string_to_metric_families

from deploy import postgres
from services.operator import ensure_admin
from services.registry import definition
from services.runtime.auth import token_sha256
from services.runtime.keys import POOL
from services.runtime.service import build_app
from services.runtime.settings import ServiceConfig
from tests.conftest import free_port, wait_until

# What each service's clients send, a route that writes (None: none yet), a read that needs the token,
# the table the write adds a row to, and the key of the API's error body.
HEADER = {"catalog": "Authorization", "ingest": "Authorization", "versioning": "X-API-KEY"}
BODY_KEY = {"catalog": "error", "ingest": "detail", "versioning": "detail"}
WRITES: dict[str, tuple[str, Callable[[str], dict[str, Any]], str]] = {
    "catalog": ("/api/repos/create", lambda name: {"name": name, "type": "dataset"}, "repos"),
    "ingest": ("/v2/huggingface-datasets", lambda name: {"url": f"someone/{name}"}, "sources"),
}
AUTHENTICATED_READ = {
    "catalog": "/api/whoami-v2",
    "ingest": f"/v2/data-sources/{uuid.uuid4()}",
    "versioning": "/v5/datasets",  # no routes yet: the token is looked up before the 404
}


@pytest.fixture
def cluster() -> Iterator[postgres.LocalPostgres]:
    pg = postgres.temporary(free_port())
    # Commits must survive the crash: with synchronous_commit off the last ones would vanish with it.
    pg.durable = True
    pg.init()
    pg.start()
    pg.create_database("hubstream")
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(pg.data_dir.parent, ignore_errors=True)


@dataclass
class Running:
    service: str
    config: ServiceConfig
    http: aiohttp.ClientSession
    token: str
    cluster: postgres.LocalPostgres
    app: web.Application

    async def call(
        self, method: str, path: str, *, token: str | None = None, **kw: Any
    ) -> tuple[int, CIMultiDictProxy[str], Any]:
        headers = {}
        if token is not None:
            headers[HEADER[self.service]] = token if HEADER[self.service] == "X-API-KEY" else f"Bearer {token}"
        async with self.http.request(method, self.config.http.url + path, headers=headers, **kw) as response:
            return response.status, response.headers, await response.json(content_type=None)

    async def write(self, name: str) -> tuple[int, CIMultiDictProxy[str], Any]:
        path, body, _ = WRITES[self.service]
        return await self.call("POST", path, token=self.token, json=body(name))

    async def rows(self) -> int:
        conn = await asyncpg.connect(self.cluster.database_url("hubstream"))
        try:
            table = WRITES[self.service][2]
            return await conn.fetchval(f'SELECT count(*) FROM "{self.service}".{table}')
        finally:
            await conn.close()

    async def dependency_errors(self) -> float:
        async with self.http.get(self.config.http.url + "/metrics") as response:
            assert response.status == 200  # the scrape works while the database is down
            text = await response.text()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "hubstream_dependency_errors_total" and sample.labels == {
                    "service": self.service,
                    "dependency": "database",
                }:
                    return sample.value
        return 0.0

    async def ready(self) -> bool:
        async with self.http.get(self.config.http.url + "/readyz") as response:
            return response.status == 200


@pytest_asyncio.fixture(params=["catalog", "ingest", "versioning"])
async def running(
    request: pytest.FixtureRequest, cluster: postgres.LocalPostgres, make_config: Callable[[str], ServiceConfig]
) -> AsyncIterator[Running]:
    service: str = request.param
    config = make_config(service)
    infra = config.infra.model_copy(update={"database_url": cluster.database_url("hubstream")})
    config = replace(config, infra=infra)
    token = await ensure_admin(infra, None)  # the catalog's tables, on this cluster
    server = TestServer(build_app(definition(service), config), host="127.0.0.1", port=config.http.port)
    await server.start_server()
    try:
        if service != "catalog":  # what the identity consumer would write once the catalog's event arrives
            conn = await asyncpg.connect(infra.database_url)
            try:
                await conn.execute(
                    f"""INSERT INTO "{service}".known_tokens (token_sha256, token_id, user_name, role, created_at)
                        VALUES ($1, 'tok1', 'admin', 'admin', now())""",
                    token_sha256(token),
                )
            finally:
                await conn.close()
        timeout = aiohttp.ClientTimeout(total=30)  # a request that hung on the dead database would fail here
        async with aiohttp.ClientSession(timeout=timeout) as http:
            yield Running(service, config, http, token, cluster, server.app)
    finally:
        await server.close()


def assert_unavailable(running: Running, status: int, headers: CIMultiDictProxy[str], body: Any) -> None:
    assert status == 503, body
    assert headers["X-Error-Code"] == "DatabaseUnavailable"
    assert int(headers["Retry-After"]) > 0
    assert list(body) == [BODY_KEY[running.service]]  # the API's own shape
    assert "cannot reach its database" in body[BODY_KEY[running.service]]
    assert headers["X-Request-Id"] in body[BODY_KEY[running.service]]


async def test_while_the_database_is_down_requests_get_503_and_it_is_back_after_a_restart(running: Running) -> None:
    writes = running.service in WRITES
    status, _, body = await running.call("GET", AUTHENTICATED_READ[running.service], token=running.token)
    assert status in (200, 404), body  # the token is known: found, or (no such source / route) not found
    if writes:
        status, _, body = await running.write("before")
        assert status == 200, body
        assert await running.rows() == 1
    assert await running.dependency_errors() == 0

    running.cluster.crash()  # no shutdown checkpoint, connections cut

    refused = 0
    if writes:
        assert_unavailable(running, *await running.write("during"))
        refused += 1
    # The token lookup in the auth middleware, before any view runs.
    assert_unavailable(running, *await running.call("GET", AUTHENTICATED_READ[running.service], token=running.token))
    refused += 1
    if running.service == "catalog":  # an anonymous read: the view's own query
        assert_unavailable(running, *await running.call("GET", "/api/datasets/admin/before"))
        refused += 1

    status, _, body = await running.call("GET", "/readyz")
    assert status == 503
    assert body["checks"]["database"].startswith("unavailable")
    status, _, body = await running.call("GET", "/healthz")
    assert (status, body["status"]) == (200, "ok")
    assert await running.dependency_errors() == refused

    running.cluster.start()
    await wait_until(running.ready, timeout=60)
    if writes:
        status, _, body = await running.write("after")
        assert status == 200, body
        assert await running.rows() == 2  # before and after; nothing of the refused one
    status, _, _ = await running.call("GET", AUTHENTICATED_READ[running.service], token=running.token)
    assert status in (200, 404)


@pytest.mark.parametrize("running", ["catalog", "ingest"], indirect=True)
async def test_a_write_whose_connection_is_lost_mid_transaction_is_rolled_back_and_answered_503(
    running: Running,
) -> None:
    schema = running.service
    side = await asyncpg.connect(running.cluster.database_url("hubstream"))
    try:
        # Hold the outbox so the write stops after its first INSERT, inside its transaction.
        blocker = side.transaction()
        await blocker.start()
        await side.execute(f'LOCK TABLE "{schema}".outbox IN EXCLUSIVE MODE')
        write = asyncio.create_task(running.write("cut-off"))

        async def blocked_writer() -> int | None:
            return await side.fetchval(
                "SELECT pid FROM pg_locks WHERE relation = $1::regclass AND NOT granted", f"{schema}.outbox"
            )

        pid = await wait_until(blocked_writer, timeout=20)
        await side.fetchval("SELECT pg_terminate_backend($1)", pid)  # the connection is lost mid-query
        assert_unavailable(running, *await write)
        await blocker.rollback()
    finally:
        await side.close()

    assert await running.rows() == 0  # the row inserted before the outbox write was rolled back with it
    conn = await asyncpg.connect(running.cluster.database_url("hubstream"))
    try:
        # Only the admin token's event (written by the set-up) is in the outbox: no event of the write.
        types = await conn.fetch(f'SELECT event_type FROM "{schema}".outbox')
        assert [r["event_type"] for r in types] == (
            ["hubstream.catalog.token.created.v1"] if schema == "catalog" else []
        )
    finally:
        await conn.close()
    status, _, body = await running.write("cut-off")  # the same write, retried, goes through
    assert status == 200, body
    assert await running.rows() == 1


@pytest.mark.parametrize("running", ["ingest"], indirect=True)
async def test_a_request_that_gets_no_connection_in_time_is_refused_not_left_hanging(running: Running) -> None:
    pool = running.app[POOL]
    held = [await pool.acquire() for _ in range(pool.get_max_size())]  # every connection busy
    try:
        assert_unavailable(running, *await running.write("starved"))
    finally:
        for conn in held:
            await pool.release(conn)
    status, _, body = await running.write("fed")
    assert status == 200, body
