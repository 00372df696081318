"""Session fixtures: a real Kafka broker and a real PostgreSQL for the whole run.

Where they come from, in order:
1. `HUBSTREAM_KAFKA` / `HUBSTREAM_DATABASE_URL`, if set (a running stack, CI services);
2. testcontainers, if a Docker engine answers;
3. processes started from deploy/ (the same code as `hubstream up`).

Tests isolate themselves: each gets its own database and its own topic prefix.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from aiokafka.structs import ConsumerRecord, TopicPartition

from deploy import broker, postgres
from services.runtime.kafka import admin_context, ensure_topics, make_consumer, topic_partitions
from services.runtime.logging import log_handler
from services.runtime.settings import HttpSettings, InfraSettings, ServiceConfig
from tests.ports import PortAllocator

REPO = Path(__file__).resolve().parents[1]


@functools.cache
def _ports() -> PortAllocator:
    return PortAllocator()


def free_port() -> int:
    """A port no other test process on this machine is handed while this run lasts (tests/ports.py)."""
    return _ports().port()


def _docker_available() -> bool:
    try:
        import docker  # type: ignore[import-not-found]

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("HUBSTREAM_KAFKA"):
        yield url
        return
    if _docker_available():
        from testcontainers.kafka import KafkaContainer  # type: ignore[import-not-found]

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    local = broker.LocalKafka(home=tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port())
    process = local.start(local.home / "stdout.log")
    try:
        local.wait_ready(process)
        yield local.bootstrap
    finally:
        broker.stop_process(process)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A URL to a server's maintenance database; tests get their own databases from it."""
    if url := os.environ.get("HUBSTREAM_DATABASE_URL"):
        yield url
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer  # type: ignore[import-not-found]

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    cluster = postgres.temporary(free_port())
    cluster.init()
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()
        subprocess.run(["rm", "-rf", str(cluster.data_dir.parent)], check=False)


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@asynccontextmanager
async def fresh_database(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh, empty database on the server, dropped on the way out; yields its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    assert name.startswith("test_")  # never touch a database the test did not create
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(postgres_server_url, name)
    finally:
        admin = await asyncpg.connect(postgres_server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest_asyncio.fixture
async def database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    async with fresh_database(postgres_server_url) as url:
        yield url


@pytest_asyncio.fixture
async def topic_prefix(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A topic namespace of this test's own, with every contract topic created in it; deleted afterwards.

    Deleted because the broker keeps files open for every partition it holds, and a session of a few
    hundred tests would otherwise run it out of file descriptors (one broker serves the whole run).
    """
    prefix = await new_topic_prefix(kafka_bootstrap)
    yield prefix
    await delete_topics_under(kafka_bootstrap, prefix)


async def delete_topics_under(kafka_bootstrap: str, prefix: str) -> None:
    """Delete every topic whose name starts with `prefix`; a broker that does not answer is only logged."""
    try:
        async with asyncio.timeout(30), admin_context(kafka_bootstrap) as admin:
            topics = [t for t in await admin.list_topics() if t.startswith(prefix)]
            if topics:
                await admin.delete_topics(topics)
    except Exception as exc:  # a teardown must not fail the test it follows
        logging.getLogger(__name__).warning("could not delete the topics under %s: %s", prefix, exc)


async def new_topic_prefix(kafka_bootstrap: str) -> str:
    """A fresh topic prefix, with every contract topic created under it."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    await ensure_topics(kafka_bootstrap, prefix=prefix)
    return prefix


@pytest.fixture
def make_config(
    database_url: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> Callable[[str], ServiceConfig]:
    """Builds a ServiceConfig for a service on this test's database, topics, state dir and a free port."""
    return config_maker(database_url, kafka_bootstrap, topic_prefix, tmp_path / "home")


def config_maker(
    database_url: str, kafka_bootstrap: str, topic_prefix: str, home: Path
) -> Callable[[str], ServiceConfig]:
    """A ServiceConfig per service on these database and topics, each on a port of its own; state under `home`."""
    ports: dict[str, int] = {}

    def make(service: str) -> ServiceConfig:
        port = ports.setdefault(service, free_port())
        infra = InfraSettings(
            home=home,
            database_url=database_url,
            kafka=kafka_bootstrap,
            topic_prefix=topic_prefix,
            catalog_url=f"http://127.0.0.1:{ports.setdefault('catalog', free_port())}",
            ingest_url=f"http://127.0.0.1:{ports.setdefault('ingest', free_port())}",
            versioning_url=f"http://127.0.0.1:{ports.setdefault('versioning', free_port())}",
        )
        return ServiceConfig(service=service, infra=infra, http=HttpSettings(host="127.0.0.1", port=port))

    return make


@contextmanager
def logs_as_the_services_write_them(level: int) -> Iterator[io.StringIO]:
    """Everything the root logger writes at `level` or above meanwhile, formatted by the services' handler."""
    buffer = io.StringIO()
    handler = log_handler(buffer, process="test")
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


async def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll an async predicate until it returns something truthy; fail with a clear message if it never does."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate.__name__}")
        await asyncio.sleep(interval)


async def read_to_end(bootstrap: str, topic: str, *, timeout: float = 20.0) -> list[ConsumerRecord]:
    """Every committed record of `topic` up to its ends as they are now, partition by partition."""
    partitions = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
    if not partitions:
        return []
    consumer = make_consumer(bootstrap)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        async with asyncio.timeout(timeout):
            # Positions, not empty fetches, say when a partition is read: transaction markers take offsets too.
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for batch in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                    records += batch
        return records
    finally:
        await consumer.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int,
    settle: float = 0.0,
    timeout: float = 20.0,
    where: Callable[[ConsumerRecord], bool] | None = None,
) -> list[ConsumerRecord]:
    """The records of `topic` from its start (those `where` keeps), in arrival order.

    Reads until `expect` of them arrived, then `settle` seconds more so that extras (duplicates)
    show too; returns what arrived by `timeout` if `expect` never does.
    """
    consumer = make_consumer(bootstrap, topic, auto_offset_reset="earliest")
    await consumer.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    records: list[ConsumerRecord] = []
    enough_at: float | None = None
    try:
        while True:
            for batch in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                records += [r for r in batch if where is None or where(r)]
            now = loop.time()
            if len(records) >= expect:
                if enough_at is None:
                    enough_at = now
                if now - enough_at >= settle:
                    return records
            elif now > deadline:
                return records
    finally:
        await consumer.stop()
