"""A mirror's two sides: the catalog under test (tests/catalog/conftest.py) with its mirror worker, and an
upstream that is a second catalog process of this project (its own database and port), started and stopped
by the test; plus the `hubstream mirror` command run against the mirror's database."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

# The real client, on plain HTTP only (set before it is imported anywhere).
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

from contracts.mirror import MirrorSyncRequested
from services.catalog import identity
from services.catalog.mirror_upstream import Retry
from services.catalog.mirror_worker import SyncRunner, on_sync_requested
from services.cli import main
from services.operator import catalog_connection, ensure_admin
from services.registry import definition
from services.runtime.resources import BackgroundTasks
from services.runtime.service import worker_deps
from services.runtime.settings import InfraSettings
from tests.catalog.conftest import Catalog, catalog, hubstream_home
from tests.conftest import free_port, fresh_database

__all__ = ["Catalog", "catalog", "hubstream_home"]

# Retries short enough that an unreachable upstream is given up on in well under a second.
FAST_RETRY = Retry(attempts=3, base=0.05, cap=0.2, connect_timeout=2.0, read_timeout=10.0)


@dataclass
class Upstream:
    url: str
    database_url: str
    admin_token: str
    process: subprocess.Popen[bytes] | None
    log: Path

    async def user(self, name: str) -> str:
        conn, outbox = await catalog_connection(InfraSettings(database_url=self.database_url))
        try:
            async with conn.transaction():
                await identity.create_user(conn, name)
                return (await identity.issue_token(conn, outbox, name, role="write")).token
        finally:
            await conn.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


@pytest_asyncio.fixture
async def upstream(postgres_server_url: str, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[Upstream]:
    """`hubstream serve catalog` in a process of its own, on its own database and port."""
    async with fresh_database(postgres_server_url) as database_url:
        token = await ensure_admin(InfraSettings(database_url=database_url), None)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSTREAM_")}
        env.update(
            HUBSTREAM_DATABASE_URL=database_url,
            HUBSTREAM_KAFKA=kafka_bootstrap,
            HUBSTREAM_HOME=str(tmp_path / "upstream-home"),
            HUBSTREAM_CATALOG_PORT=str(port),
        )
        log = tmp_path / "upstream.log"
        process = start_catalog(env, log)
        up = Upstream(f"http://127.0.0.1:{port}", database_url, token, process, log)
        try:
            await _wait_ready(up)
            yield up
        finally:
            up.stop()


def start_catalog(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "catalog"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def _wait_ready(up: Upstream) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            assert up.process is not None
            if up.process.poll() is not None:
                raise AssertionError(f"the upstream catalog exited: {up.log.read_text()[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(up.url + "/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError(f"the upstream catalog never got ready: {up.log.read_text()[-2000:]}")


@pytest_asyncio.fixture
async def mirror_worker(catalog: Catalog) -> AsyncIterator[SyncRunner]:
    """The catalog worker's two parts (as `hubstream worker catalog` runs them), with short upstream retries."""
    async with AsyncExitStack() as stack:
        deps = await stack.enter_async_context(worker_deps(definition("catalog"), catalog.config))
        requests = deps.consumer("catalog-mirror")
        requests.on(MirrorSyncRequested, on_sync_requested)
        runner = SyncRunner(deps.pool, deps.outbox, catalog.config.infra.home, FAST_RETRY)
        await stack.enter_async_context(BackgroundTasks({requests.group: requests.run, runner.group: runner.run}))
        yield runner


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def hubstream(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Awaitable[Ran]]:
    """Runs `hubstream ARGS...` (in a thread) against the mirror's database and topics."""
    infra = catalog.config.infra
    monkeypatch.setenv("HUBSTREAM_DATABASE_URL", infra.database_url)
    monkeypatch.setenv("HUBSTREAM_KAFKA", infra.kafka)
    monkeypatch.setenv("HUBSTREAM_TOPIC_PREFIX", infra.topic_prefix)

    async def run(*args: str) -> Ran:
        out, err = io.StringIO(), io.StringIO()

        def call() -> int:
            with redirect_stdout(out), redirect_stderr(err):
                return main(list(args))

        code = await asyncio.to_thread(call)
        return Ran(code, out.getvalue(), err.getvalue())

    return run
