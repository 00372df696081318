"""Stopping a consumer finishes the record in hand, or abandons it without a trace when it takes too long.

Run on the in-memory broker and on real Kafka (the `transport` fixture), like the consumer's suite.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import pytest
from aiokafka.structs import TopicPartition

from contracts import encode, wrap
from contracts.ingest import IndexRequested
from contracts.topics import INGEST_REQUESTS
from services.runtime import consumer as consumer_module
from services.runtime.consumer import EventConsumer, Received
from services.runtime.kafka import partition_for
from services.runtime.resources import BackgroundTasks
from tests.conftest import wait_until
from tests.runtime.conftest import Transport, stored_effects

KEY = "k"


async def publish(transport: Transport, *datasets: str) -> None:
    for dataset in datasets:
        event = IndexRequested(source_id=uuid.uuid4(), dataset=dataset)
        await transport.producer.send_and_wait(
            transport.prefix + INGEST_REQUESTS.name, encode(wrap(event, source="/t")), key=KEY.encode()
        )


class Slow:
    """A transactional handler that writes its effect, then takes `delay` seconds inside its transaction."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.started = asyncio.Event()

    async def __call__(self, message: Received[IndexRequested], conn: asyncpg.Connection) -> None:
        await conn.execute("INSERT INTO effects (dataset) VALUES ($1)", message.data.dataset)
        self.started.set()
        await asyncio.sleep(self.delay)


def consumer_on(transport: Transport, pool: asyncpg.Pool, group: str, handler: Slow) -> EventConsumer:
    consumer = EventConsumer(
        # No commit falls due while the test runs: what is committed, the stop committed.
        commit_interval=600,
        group=group,
        bootstrap=transport.bootstrap,
        pool=pool,
        producer=transport.producer,
        topic_prefix=transport.prefix,
        source_factory=transport.source_factory,
    )
    consumer.on(IndexRequested, handler)
    return consumer


async def handled(consumer: EventConsumer, n: int) -> None:
    async def enough() -> bool:
        return consumer.stats.handled + consumer.stats.duplicates >= n

    await wait_until(enough, timeout=30)


async def test_stop_finishes_the_record_in_hand_and_commits_it(pool: asyncpg.Pool, transport: Transport) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    await publish(transport, "owner/one")
    slow = Slow(delay=0.5)
    consumer = consumer_on(transport, pool, group, slow)
    async with BackgroundTasks({"c": consumer.run}, grace=10):
        await asyncio.wait_for(slow.started.wait(), 30)  # the handler is now sleeping inside its transaction
    assert await stored_effects(pool) == ["owner/one"]
    assert consumer.stats.handled == 1
    tp = TopicPartition(transport.prefix + INGEST_REQUESTS.name, partition_for(KEY, INGEST_REQUESTS.partitions))
    assert await transport.committed(consumer.group_id, tp) == 1

    # A later member of the group starts after the committed record: only what came since reaches it.
    await publish(transport, "owner/two")
    again = consumer_on(transport, pool, group, Slow(delay=0))
    async with BackgroundTasks({"c": again.run}, grace=10):
        await handled(again, 1)
    assert (again.stats.handled, again.stats.duplicates) == (1, 0)
    assert await stored_effects(pool) == ["owner/one", "owner/two"]


async def test_work_that_outlives_the_grace_period_is_abandoned_and_done_once_later(
    pool: asyncpg.Pool, transport: Transport
) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    await publish(transport, "owner/slow")
    stuck = Slow(delay=60)
    async with BackgroundTasks({"c": consumer_on(transport, pool, group, stuck).run}, grace=0.5):
        await asyncio.wait_for(stuck.started.wait(), 30)
    assert await stored_effects(pool) == []  # cancelled: its transaction rolled back, inbox claim included

    after = consumer_on(transport, pool, group, Slow(delay=0))
    async with BackgroundTasks({"c": after.run}, grace=10):
        await handled(after, 1)
    assert after.stats.handled == 1  # redelivered, since its offset was never committed
    assert await stored_effects(pool) == ["owner/slow"]


async def test_an_idle_consumer_stops_without_waiting_out_its_poll(
    pool: asyncpg.Pool, transport: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each service stops its consumers one after another: when each waited out its poll (POLL_TIMEOUT_MS),
    # a stop took about half a second a consumer, and nothing was left to do. Polls of 5 s here, so that a
    # stop that waits for one cannot pass for quick by chance.
    monkeypatch.setattr(consumer_module, "POLL_TIMEOUT_MS", 5000)
    group = f"g-{uuid.uuid4().hex[:8]}"
    await publish(transport, "owner/one")
    consumer = consumer_on(transport, pool, group, Slow(delay=0))
    tasks = BackgroundTasks({"c": consumer.run}, grace=10)
    async with tasks:
        await handled(consumer, 1)
        await asyncio.sleep(0.1)  # the consumer is now waiting in its next poll, with nothing to read
        stopping = time.perf_counter()
    took = time.perf_counter() - stopping
    assert took < 0.5, f"the stop took {took * 1000:.0f} ms"
    tp = TopicPartition(transport.prefix + INGEST_REQUESTS.name, partition_for(KEY, INGEST_REQUESTS.partitions))
    assert await transport.committed(consumer.group_id, tp) == 1  # what was handled is committed
