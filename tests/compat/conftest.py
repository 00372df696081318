"""Real clients against a running catalog (and, for the cross-service tests, the whole stack)."""

import os

# Recent huggingface_hub releases upload through Xet whenever hf_xet is installed, and read this once,
# when first imported: set it before any test module imports the client. hubstream speaks plain HTTP.
os.environ["HF_HUB_DISABLE_XET"] = "1"
# 2.x fetches an "agent harness" registry from the default endpoint on first use: nothing may leave the machine.
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from services.catalog import identity
from services.catalog.app import DEFINITION
from services.operator import ensure_admin
from services.runtime.outbox import Outbox, OutboxRelay
from services.runtime.resources import BackgroundTasks
from services.runtime.service import build_app, worker_deps
from services.runtime.settings import ServiceConfig
from tests.e2e.conftest import stack

# The client's own HTTP library warns about how the client calls it (an LFS PUT of raw bytes); not ours to fix.
CLIENT_WARNINGS = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")


@dataclass
class Catalog:
    """The catalog's API and relay on real HTTP, PostgreSQL and Kafka; blobs under this test's own home."""

    config: ServiceConfig
    pool: asyncpg.Pool
    outbox: Outbox
    admin_token: str
    home: Path

    @property
    def url(self) -> str:
        return self.config.http.url

    async def user(self, name: str) -> str:
        """A user of that name and a write token of theirs."""
        async with self.pool.acquire() as conn, conn.transaction():
            await identity.create_user(conn, name)
            issued = await identity.issue_token(conn, self.outbox, name, role="write")
        return issued.token


@pytest.fixture(autouse=True)
def hubstream_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Blobs (and any other local state) of this test's services go under its own temporary folder."""
    home = tmp_path / "hubstream"
    monkeypatch.setenv("HUBSTREAM_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    return home


@pytest_asyncio.fixture
async def catalog(make_config: Callable[[str], ServiceConfig], hubstream_home: Path) -> AsyncIterator[Catalog]:
    config = make_config("catalog")
    async with AsyncExitStack() as resources:
        server = TestServer(build_app(DEFINITION, config), host="127.0.0.1", port=config.http.port)
        await server.start_server()
        resources.push_async_callback(server.close)
        deps = await resources.enter_async_context(worker_deps(DEFINITION, config))
        relay = OutboxRelay(
            deps.pool, deps.producer, config.infra.kafka, deps.outbox, topic_prefix=config.infra.topic_prefix
        )
        await resources.enter_async_context(BackgroundTasks({"catalog-relay": relay.run}))
        token = await ensure_admin(config.infra, None)
        yield Catalog(config, deps.pool, deps.outbox, token, hubstream_home)


__all__ = ["CLIENT_WARNINGS", "Catalog", "catalog", "stack"]
