"""Stopping a consumer finishes the record in hand, or abandons it without a trace when it takes too long."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from aiokafka.structs import TopicPartition

from contracts import encode, wrap
from contracts.ingest import IndexRequested
from contracts.topics import INGEST_REQUESTS, TOPICS
from services.runtime.consumer import EventConsumer, Received
from services.runtime.kafka import partition_for
from services.runtime.memory_broker import MemoryBroker
from services.runtime.resources import BackgroundTasks


def memory_broker() -> MemoryBroker:
    broker = MemoryBroker()
    for topic in TOPICS:
        broker.create_topic(topic.name)
        broker.create_topic(topic.dlq)
    return broker


async def publish(broker: MemoryBroker, *datasets: str) -> None:
    for dataset in datasets:
        event = IndexRequested(source_id=uuid.uuid4(), dataset=dataset)
        await broker.producer().send_and_wait(INGEST_REQUESTS.name, encode(wrap(event, source="/t")), key=b"k")


def consumer_on(broker: MemoryBroker, pool: asyncpg.Pool, group: str, delay: float) -> EventConsumer:
    consumer = EventConsumer(
        group=group, bootstrap="memory", pool=pool, producer=broker.producer(), source_factory=broker.source
    )

    async def slow(message: Received[IndexRequested], conn: asyncpg.Connection) -> None:
        await conn.execute("INSERT INTO effects (dataset) VALUES ($1)", message.data.dataset)
        await asyncio.sleep(delay)

    consumer.on(IndexRequested, slow)
    return consumer


async def effects(pool: asyncpg.Pool) -> list[str]:
    return [r["dataset"] for r in await pool.fetch("SELECT dataset FROM effects ORDER BY dataset")]


async def test_stop_finishes_the_record_in_hand_and_commits_it(pool: asyncpg.Pool) -> None:
    broker = memory_broker()
    await publish(broker, "owner/one")
    consumer = consumer_on(broker, pool, "g", delay=0.5)
    async with BackgroundTasks({"c": consumer.run}, grace=5):
        await asyncio.sleep(0.2)  # the handler is now sleeping inside its transaction
    assert await effects(pool) == ["owner/one"]
    assert consumer.stats.handled == 1

    again = consumer_on(broker, pool, "g", delay=0)
    async with BackgroundTasks({"c": again.run}, grace=5):
        await asyncio.sleep(0.5)
    assert again.stats.handled == again.stats.duplicates == 0  # the offset was committed: nothing comes back
    assert broker.committed("g", TopicPartition(INGEST_REQUESTS.name, partition_for("k", 3))) == 1


async def test_work_that_outlives_the_grace_period_is_abandoned_and_done_once_later(pool: asyncpg.Pool) -> None:
    broker = memory_broker()
    await publish(broker, "owner/slow")
    stuck = consumer_on(broker, pool, "g", delay=30)
    async with BackgroundTasks({"c": stuck.run}, grace=0.5):
        await asyncio.sleep(0.2)
    assert await effects(pool) == []  # cancelled: its transaction rolled back, inbox claim included

    after = consumer_on(broker, pool, "g", delay=0)
    async with BackgroundTasks({"c": after.run}, grace=5):
        for _ in range(50):
            if after.stats.handled:
                break
            await asyncio.sleep(0.1)
    assert await effects(pool) == ["owner/slow"]  # redelivered, since its offset was never committed
