"""The catalog service alone, on real HTTP, PostgreSQL and Kafka, with helpers to make users and read its outbox.

Lighter than the three-service stack; tests/compat drives the real clients against the same fixture.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from contracts import event_class
from contracts.headers import OUTBOX_ID
from services.catalog import identity, store, store_listing
from services.operator import ensure_admin
from services.registry import definition
from services.runtime.outbox import Outbox, OutboxRelay
from services.runtime.resources import BackgroundTasks
from services.runtime.service import build_app, worker_deps
from services.runtime.settings import ServiceConfig
from tests.conftest import read_to_end, wait_until


@dataclass
class Catalog:
    """The catalog's API and relay on real HTTP, PostgreSQL and Kafka; blobs under this test's own home."""

    config: ServiceConfig
    pool: asyncpg.Pool
    http: aiohttp.ClientSession
    admin_token: str
    home: Path

    @property
    def url(self) -> str:
        return self.config.http.url

    def outbox(self) -> Outbox:
        return Outbox(schema=self.config.schema, source=self.config.event_source)

    async def user(self, name: str, *, orgs: dict[str, str] | None = None, role: str = "write") -> str:
        """A user with a fresh token (returned), and a member of `orgs` ({org: role}), creating those."""
        async with self.pool.acquire() as conn, conn.transaction():
            await identity.create_user(conn, name)
            for org, org_role in (orgs or {}).items():
                await identity.create_org(conn, org)
                await identity.add_member(conn, org, name, org_role)
            issued = await identity.issue_token(conn, self.outbox(), name, role=role)
        return issued.token

    async def call(
        self, method: str, path: str, *, token: str | None = None, **kw: Any
    ) -> tuple[int, CIMultiDict[str], Any]:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kw.setdefault("allow_redirects", False)
        async with self.http.request(method, self.url + path, headers=headers, **kw) as response:
            raw = await response.read()
            is_json = response.content_type == "application/json"
            return response.status, CIMultiDict(response.headers), orjson.loads(raw) if raw and is_json else raw

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        """The `data` of each event of this type the catalog committed, in commit order, read from its topic.

        The relay moves a row out of the outbox only once its Kafka transaction has committed, so once the
        outbox is empty the topic holds every event committed so far.
        """

        async def all_published() -> bool:
            return await self.pool.fetchval("SELECT count(*) FROM outbox") == 0

        await wait_until(all_published, timeout=30)
        event = event_class(event_type)
        assert event is not None, f"no event type {event_type}"
        records = await read_to_end(self.config.infra.kafka, self.config.infra.topic_prefix + event.topic.name)
        # Several partitions: the outbox row id (a header) restores the order the catalog committed them in.
        ours = [(int(dict(r.headers)[OUTBOX_ID.name]), orjson.loads(r.value)) for r in records]
        return [envelope["data"] for _, envelope in sorted(ours, key=lambda x: x[0]) if envelope["type"] == event_type]


@pytest.fixture(autouse=True)
def hubstream_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Blobs (and any other local state) of this test's services, and the client's cache, under its own folder."""
    home = tmp_path / "home"  # where make_config (tests/conftest.py) puts the services' state
    monkeypatch.setenv("HUBSTREAM_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    return home


@pytest_asyncio.fixture
async def catalog(make_config: Callable[[str], ServiceConfig], hubstream_home: Path) -> AsyncIterator[Catalog]:
    """The catalog alone on this test's database and topics, its relay publishing what it commits."""
    config = make_config("catalog")
    async with AsyncExitStack() as resources:
        server = TestServer(build_app(definition("catalog"), config), host="127.0.0.1", port=config.http.port)
        await server.start_server()
        resources.push_async_callback(server.close)
        deps = await resources.enter_async_context(worker_deps(definition("catalog"), config))
        relay = OutboxRelay(deps.pool, config.infra.kafka, deps.outbox, topic_prefix=config.infra.topic_prefix)
        await resources.enter_async_context(BackgroundTasks({"catalog-relay": relay.run}))
        token = await ensure_admin(config.infra, None)
        http = await resources.enter_async_context(aiohttp.ClientSession())
        yield Catalog(config, deps.pool, http, token, hubstream_home)


async def load_repos(
    pool: asyncpg.Pool,
    repo_type: str,
    names: list[str],
    *,
    tags: Callable[[int], list[str]] = lambda i: [],
    likes: Callable[[int], int] = lambda i: 0,
    private: Callable[[int], bool] = lambda i: False,
) -> None:
    """Bulk-create repos `namespace/name` (their namespaces as users), one second apart in creation order."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for i, repo_id in enumerate(names):
        namespace, name = repo_id.split("/")
        when = start + timedelta(seconds=i)
        rows.append((secrets.token_hex(12), repo_type, namespace, name, private(i), namespace, when, when, tags(i),
                     likes(i), 0))  # fmt: skip
    async with pool.acquire() as conn, conn.transaction():
        for namespace in sorted({n.split("/")[0] for n in names}):
            await store.insert_account(conn, name=namespace, kind="user", fullname="", email=None, is_admin=False)
        await store_listing.copy_repos(conn, rows)
