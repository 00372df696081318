"""The outbox publishes what committed, exactly once, in order; nothing of what rolled back."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from contracts import decode
from contracts.catalog import RepoUpdated
from contracts.ingest import IndexRequested
from contracts.topics import INGEST_REQUESTS
from services.runtime.kafka import producer_context
from services.runtime.outbox import Outbox, OutboxError, OutboxRelay
from tests.conftest import read_topic, wait_until
from tests.runtime.conftest import SCHEMA


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(schema=SCHEMA, source="/hubstream/test")


def request(dataset: str, source_id: uuid.UUID | None = None) -> IndexRequested:
    return IndexRequested(source_id=source_id or uuid.uuid4(), dataset=dataset)


async def test_committed_events_are_published_once_and_rolled_back_ones_never(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    kept = request("owner/kept")
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, kept)

    async def change_that_fails() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, request("owner/rolled-back"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await change_that_fails()

    async with producer_context(kafka_bootstrap) as producer:
        relay = OutboxRelay(pool, producer, kafka_bootstrap, outbox, topic_prefix=topic_prefix)
        assert await relay.relay_once() == 1
        assert await relay.relay_once() == 0

    records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=1, settle=1.0)
    assert [decode(r.value).data["dataset"] for r in records] == ["owner/kept"]
    assert records[0].key == str(kept.source_id).encode()
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def test_outbox_refuses_to_write_outside_a_transaction(pool: asyncpg.Pool, outbox: Outbox) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(OutboxError, match="inside the transaction"):
            await outbox.add(conn, request("owner/x"))


async def test_a_relay_crash_between_publish_and_mark_does_not_publish_twice(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    events = [request(f"owner/d{i}") for i in range(30)]
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, *events)

    async with producer_context(kafka_bootstrap) as producer:
        crashed = OutboxRelay(pool, producer, kafka_bootstrap, outbox, topic_prefix=topic_prefix, batch_size=20)
        batch = await crashed.fetch_pending()
        await crashed.publish(batch)  # ...and the process dies here, before mark()
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 30

    async with producer_context(kafka_bootstrap) as producer:
        successor = OutboxRelay(pool, producer, kafka_bootstrap, outbox, topic_prefix=topic_prefix, batch_size=20)
        assert await successor.recover() == 20
        while await successor.relay_once():
            pass

    records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=30, settle=1.0)
    ids = [decode(r.value).id for r in records]
    assert len(ids) == 30
    assert len(set(ids)) == 30
    assert sorted(decode(r.value).data["dataset"] for r in records) == sorted(e.dataset for e in events)


async def test_events_of_one_key_arrive_in_commit_order(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    source_id = uuid.uuid4()
    for i in range(10):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, request(f"owner/v{i}", source_id))
    async with producer_context(kafka_bootstrap) as producer:
        relay = OutboxRelay(pool, producer, kafka_bootstrap, outbox, topic_prefix=topic_prefix, batch_size=3)
        while await relay.relay_once():
            pass
    records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=10, settle=1.0)
    assert [decode(r.value).data["dataset"] for r in records] == [f"owner/v{i}" for i in range(10)]


async def test_running_relay_is_woken_by_commit_and_a_second_relay_stands_by(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    stopping = asyncio.Event()
    async with producer_context(kafka_bootstrap) as producer:
        # A long poll interval: only the NOTIFY can make delivery fast.
        active = OutboxRelay(pool, producer, kafka_bootstrap, outbox, topic_prefix=topic_prefix, poll_interval=30)
        standby = OutboxRelay(pool, producer, kafka_bootstrap, outbox, topic_prefix=topic_prefix, poll_interval=0.2)
        first = asyncio.create_task(active.run(stopping))

        async def lock_held() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"))

        await wait_until(lock_held)  # the first relay is the active one before the second starts
        second = asyncio.create_task(standby.run(stopping))
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, request("owner/woken"))
        records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=1, settle=0.5)
        stopping.set()
        await asyncio.wait_for(asyncio.gather(first, second), timeout=15)
    assert [decode(r.value).data["dataset"] for r in records] == ["owner/woken"]
    assert (active.published, standby.published) == (1, 0)


async def test_recovery_is_not_fooled_by_row_ids_of_an_earlier_database(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    # Row ids restart with a new (or restored) database; the messages of the old one are still on the topic.
    source_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, request("owner/old", source_id))
    async with producer_context(kafka_bootstrap) as producer:
        relay = OutboxRelay(pool, producer, kafka_bootstrap, outbox, topic_prefix=topic_prefix)
        assert await relay.relay_once() == 1
        await pool.execute("TRUNCATE outbox RESTART IDENTITY")  # the database starts over
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, request("owner/new", source_id))  # same row id 1, same partition
        assert await relay.recover() == 0
        assert await relay.relay_once() == 1
    records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=2, settle=1.0)
    assert [decode(r.value).data["dataset"] for r in records] == ["owner/old", "owner/new"]


async def test_events_too_large_for_the_broker_fail_the_writing_transaction(pool: asyncpg.Pool, outbox: Outbox) -> None:
    huge = RepoUpdated(repo_type="dataset", repo_id="owner/big", head_sha="0" * 40, changed_paths=["x" * 1000] * 1000)
    async with pool.acquire() as conn:
        with pytest.raises(OutboxError, match="bytes encoded; events are limited"):
            async with conn.transaction():
                await outbox.add(conn, huge)
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
