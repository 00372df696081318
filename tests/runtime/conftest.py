"""A database with the runtime's tables (outbox, inbox) and an `effects` table handlers can write to;
and the transport the behaviour suites run on, in memory and on real Kafka (FastStream's pattern)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from aiokafka.structs import ConsumerRecord, TopicPartition

from contracts.topics import TOPICS
from services.runtime import db, migrations
from services.runtime.kafka import admin_context, ensure_topics, producer_context
from services.runtime.memory_broker import MemoryBroker
from services.runtime.transport import RecordSink, SourceFactory
from tests.conftest import read_topic

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


async def stored_effects(pool: asyncpg.Pool) -> list[str]:
    """What handlers wrote to `effects`, sorted."""
    return [r["dataset"] for r in await pool.fetch("SELECT dataset FROM effects ORDER BY dataset")]


@dataclass
class Transport:
    """Kafka or memory: how a suite publishes, opens group members and reads a topic and its offsets back."""

    name: str
    producer: RecordSink
    prefix: str
    source_factory: SourceFactory | None  # None: real Kafka
    bootstrap: str
    # (topic, how many records to wait for) -> its records; with 0, whatever arrives within a few seconds.
    read: Callable[[str, int], Awaitable[list[ConsumerRecord]]]
    committed: Callable[[str, TopicPartition], Awaitable[int]]  # (group, partition) -> its committed offset


@pytest_asyncio.fixture(params=["memory", "kafka"])
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    if request.param == "memory":
        broker = MemoryBroker()
        for topic in TOPICS:
            broker.create_topic(prefix + topic.name)
            broker.create_topic(prefix + topic.dlq)

        async def read_memory(topic: str, expect: int) -> list[ConsumerRecord]:
            return broker.records(topic)

        async def committed_memory(group: str, tp: TopicPartition) -> int:
            return broker.committed(group, tp)

        yield Transport("memory", broker.producer(), prefix, broker.source, "memory", read_memory, committed_memory)
        return
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    await ensure_topics(bootstrap, prefix=prefix)

    async def read_kafka(topic: str, expect: int) -> list[ConsumerRecord]:
        if expect == 0:  # that none arrive: wait a while for any that might
            return await read_topic(bootstrap, topic, expect=1, timeout=3)
        return await read_topic(bootstrap, topic, expect=expect)

    async def committed_kafka(group: str, tp: TopicPartition) -> int:
        async with admin_context(bootstrap) as admin:
            offsets = await admin.list_consumer_group_offsets(group, partitions=[tp])
        meta = offsets.get(tp)
        return meta.offset if meta is not None and meta.offset >= 0 else 0

    async with producer_context(bootstrap) as producer:
        yield Transport("kafka", producer, prefix, None, bootstrap, read_kafka, committed_kafka)
