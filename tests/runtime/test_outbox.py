"""The outbox publishes what committed, exactly once, in order; nothing of what rolled back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Collection
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerFenced
from aiokafka.structs import TopicPartition

from contracts import CloudEvent, decode
from contracts.asyncapi import asyncapi_document
from contracts.catalog import RepoUpdated
from contracts.ingest import IndexRequested
from contracts.topics import INGEST_REQUESTS
from services.runtime.kafka import partition_for
from services.runtime.outbox import (
    HEADER_OUTBOX_EVENT,
    HEADER_OUTBOX_SOURCE,
    Outbox,
    OutboxError,
    OutboxRelay,
    PendingRow,
)
from tests.conftest import read_topic, wait_until
from tests.runtime.conftest import SCHEMA


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(schema=SCHEMA, source="/hubstream/test")


def request(dataset: str, source_id: uuid.UUID | None = None) -> IndexRequested:
    return IndexRequested(source_id=source_id or uuid.uuid4(), dataset=dataset)


async def commit(pool: asyncpg.Pool, outbox: Outbox, *events: IndexRequested) -> list[CloudEvent]:
    """Write events to the outbox in one committed transaction."""
    async with pool.acquire() as conn, conn.transaction():
        return await outbox.add(conn, *events)


async def advisory_locks(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """Advisory locks held in this test's own database (the server may be shared with a running stack)."""
    return await pool.fetch(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )


async def test_committed_events_are_published_once_and_rolled_back_ones_never(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    kept = request("owner/kept")
    await commit(pool, outbox, kept)

    async def change_that_fails() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, request("owner/rolled-back"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await change_that_fails()

    relay = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix)
    async with relay.producing():
        assert await relay.relay_once() == 1
        assert await relay.relay_once() == 0

    records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=1, settle=1.0)
    assert [decode(r.value).data["dataset"] for r in records] == ["owner/kept"]
    assert records[0].key == str(kept.source_id).encode()
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_outbox_refuses_to_write_outside_a_transaction(pool: asyncpg.Pool, outbox: Outbox) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(OutboxError, match="inside the transaction"):
            await outbox.add(conn, request("owner/x"))


async def test_a_relay_crash_between_commit_and_mark_does_not_publish_twice(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    events = [request(f"owner/d{i}") for i in range(30)]
    await commit(pool, outbox, *events)

    crashed = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix, batch_size=20)
    async with crashed.producing():
        batch = await crashed.fetch_pending()
        await crashed.publish(batch)  # committed on Kafka, and the process dies here, before mark()
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 30

    successor = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix, batch_size=20)
    async with successor.producing():
        assert await successor.recover() == 20
        while await successor.relay_once():
            pass
    assert (successor.recovered, successor.published) == (20, 10)

    records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=30, settle=1.0)
    ids = [decode(r.value).id for r in records]
    assert len(ids) == 30
    assert len(set(ids)) == 30
    assert sorted(decode(r.value).data["dataset"] for r in records) == sorted(e.dataset for e in events)


async def test_a_takeover_reads_the_partition_ends_without_waiting_for_a_metadata_retry(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    # A fresh client asked for the ends of partitions it has no metadata for fails the request as stale and
    # retries after retry_backoff_ms (100 ms): half of a takeover's time when little is pending. Each takeover
    # (a relay restart, a failover) paid it, and the event path stood still meanwhile.
    topic = topic_prefix + INGEST_REQUESTS.name
    await commit(pool, outbox, request("owner/ends"))
    relay = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix)
    async with relay.producing():
        assert await relay.relay_once() == 1
        partitions = [TopicPartition(topic, p) for p in range(INGEST_REQUESTS.partitions)]
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            ends = await relay._high_watermarks(partitions)
            timings.append(time.perf_counter() - started)
    assert sum(ends.values()) >= 2  # the record and its transaction's commit marker
    assert min(timings) < 0.09, f"reading the partition ends took {[round(t * 1000) for t in timings]} ms"


async def test_a_relay_crash_mid_transaction_publishes_nothing_of_it(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    events = [request(f"owner/d{i}") for i in range(10)]
    await commit(pool, outbox, *events)
    crashed = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix)
    async with crashed.producing():
        producer = crashed._active_producer()
        await producer.begin_transaction()
        futures = await crashed._send(await crashed.fetch_pending(), {})
        await crashed.wait_acked([], futures)  # on the broker, in a transaction that never commits

        successor = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix)
        async with successor.producing():  # aborts the crashed relay's transaction
            assert await successor.recover() == 0
            assert await successor.relay_once() == 10
    records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=10, settle=1.0)
    assert sorted(decode(r.value).id for r in records) == sorted(
        r["event_id"] for r in await pool.fetch("SELECT event_id FROM outbox_published")
    )


async def test_events_of_one_key_arrive_in_commit_order(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    source_id = uuid.uuid4()
    for i in range(10):
        await commit(pool, outbox, request(f"owner/v{i}", source_id))
    # Small batches, several in flight in one transaction: order must hold across batches.
    relay = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix, batch_size=3, batches_in_flight=3)
    async with relay.producing():
        while await relay.relay_once():
            pass
    assert relay.transactions == 2  # 9 rows in flight together, then the tenth
    records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=10, settle=1.0)
    assert [decode(r.value).data["dataset"] for r in records] == [f"owner/v{i}" for i in range(10)]


async def test_running_relay_is_woken_by_commit_and_a_second_relay_stands_by(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    stopping = asyncio.Event()
    # A long poll interval: only the NOTIFY can make delivery fast.
    active = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix, poll_interval=30)
    standby = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix, poll_interval=0.2)
    first = asyncio.create_task(active.run(stopping))
    await wait_until(lambda: advisory_locks(pool))  # the first relay is the active one before the second starts
    second = asyncio.create_task(standby.run(stopping))
    await commit(pool, outbox, request("owner/woken"))
    records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=1, settle=0.5)
    assert len(await advisory_locks(pool)) == 1  # the standby waits without it
    stopping.set()
    await asyncio.wait_for(asyncio.gather(first, second), timeout=15)
    assert [decode(r.value).data["dataset"] for r in records] == ["owner/woken"]
    assert (active.published, standby.published) == (1, 0)


async def test_recovery_is_not_fooled_by_row_ids_of_an_earlier_database(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    # Row ids restart with a new (or restored) database; the messages of the old one are still on the topic.
    source_id = uuid.uuid4()
    await commit(pool, outbox, request("owner/old", source_id))
    relay = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix)
    async with relay.producing():
        assert await relay.relay_once() == 1
        # The database starts over (the archive of published rows kept, so its ids collide: marks must cope).
        await pool.execute("TRUNCATE outbox RESTART IDENTITY")
        await commit(pool, outbox, request("owner/new", source_id))  # same row id 1, same partition
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


class GatedRelay(OutboxRelay):
    """A relay that, having read its first rows, waits for `gate` before sending them; it records its failures."""

    def __init__(self, *args: Any, gate: asyncio.Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = gate
        self.holding = asyncio.Event()
        self.failures: list[BaseException] = []

    async def fetch_pending(self, limit: int | None = None, *, sent: Collection[int] = ()) -> list[PendingRow]:
        rows = await super().fetch_pending(limit, sent=sent)
        if rows and not self.gate.is_set():
            self.holding.set()
            await self.gate.wait()
        return rows

    async def relay_once(self) -> int:
        try:
            return await super().relay_once()
        except Exception as exc:
            self.failures.append(exc)
            raise


async def test_a_relay_that_lost_its_lock_is_fenced_by_its_successor(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    await commit(pool, outbox, *(request(f"owner/z{i}") for i in range(30)))
    gate, stop_zombie, stop_successor = asyncio.Event(), asyncio.Event(), asyncio.Event()
    zombie = GatedRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix, gate=gate)
    zombie_task = asyncio.create_task(zombie.run(stop_zombie))
    await asyncio.wait_for(zombie.holding.wait(), timeout=20)  # active, its rows read, not yet sent

    # Its database session dies (the lock goes with it), and the relay does not know yet.
    [held] = await advisory_locks(pool)
    assert await pool.fetchval("SELECT pg_terminate_backend($1)", held["pid"])
    successor = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix, poll_interval=0.2)
    successor_task = asyncio.create_task(successor.run(stop_successor))

    async def all_marked() -> bool:
        return await pool.fetchval("SELECT count(*) FROM outbox") == 0

    await wait_until(all_marked)
    gate.set()  # the zombie now sends the rows it read before it lost its lock
    await wait_until(lambda: asyncio.sleep(0, zombie.failures))
    stop_zombie.set()
    stop_successor.set()
    await asyncio.wait_for(asyncio.gather(zombie_task, successor_task), timeout=20)

    # Everything, then 1.5 s more: a send of the zombie that got through would show as a 31st record.
    records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=30, settle=1.5)
    ids = [decode(r.value).id for r in records]
    assert sorted(ids) == sorted(r["event_id"] for r in await pool.fetch("SELECT event_id FROM outbox_published"))
    assert isinstance(zombie.failures[0], ProducerFenced), zombie.failures
    assert (zombie.published, successor.published) == (0, 30)


async def test_recovery_reads_to_the_partition_ends_taken_at_its_start(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    # The topic is open to outside systems: one holds a transaction open on the partition of our key...
    topic = topic_prefix + INGEST_REQUESTS.name
    source_id = uuid.uuid4()
    partition = partition_for(str(source_id), INGEST_REQUESTS.partitions)
    outside = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"{topic_prefix}outside")
    await outside.start()
    try:
        await outside.begin_transaction()
        await outside.send_and_wait(topic, b"not a hubstream event", partition=partition)
        # ...while our relay commits 5 rows after it, and dies before marking them.
        await commit(pool, outbox, *(request(f"owner/e{i}", source_id) for i in range(5)))
        crashed = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix)
        async with crashed.producing():
            await crashed.publish(await crashed.fetch_pending())

        successor = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix)
        async with successor.producing():
            # Committed readers stop before the open transaction: an empty fetch there is not the end.
            recovering = asyncio.create_task(successor.recover())
            await asyncio.sleep(1.5)
            await outside.commit_transaction()
            assert await asyncio.wait_for(recovering, timeout=20) == 5
            assert await successor.relay_once() == 0
    finally:
        await outside.stop()
    records = await read_topic(kafka_bootstrap, topic, expect=6, settle=1.0)
    assert len(records) == 6


async def test_published_records_carry_the_headers_the_asyncapi_document_lists(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    [envelope] = await commit(pool, outbox, request("owner/headers"))
    relay = OutboxRelay(pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix)
    async with relay.producing():
        assert await relay.relay_once() == 1
    [record] = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=1)

    documented = asyncapi_document()["components"]["messages"][IndexRequested.event_type]["headers"]["properties"]
    assert [name for name, _ in record.headers] == list(documented)
    sent = dict(record.headers)
    assert sent[HEADER_OUTBOX_EVENT] == envelope.id.encode()  # what recovery matches on
    assert sent[HEADER_OUTBOX_SOURCE] == SCHEMA.encode()
    assert sent["content-type"].decode() in documented["content-type"]["examples"]


class PausingRelay(OutboxRelay):
    """A relay that runs `between` once: after it read the first batch of a cycle, before it reads the next."""

    def __init__(self, *args: Any, between: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.between = between

    async def fetch_pending(self, limit: int | None = None, *, sent: Collection[int] = ()) -> list[PendingRow]:
        rows = await super().fetch_pending(limit, sent=sent)
        if rows and self.between is not None:
            between, self.between = self.between, None
            await between()
        return rows


async def test_a_row_that_commits_late_is_not_overtaken_by_the_next_event_of_its_key(
    pool: asyncpg.Pool, outbox: Outbox, kafka_bootstrap: str, topic_prefix: str
) -> None:
    # Outbox ids are taken at INSERT, rows become visible at COMMIT: a transaction that took id 1 can commit
    # after id 2 was read. The next event of its key (id 3) is written after it commits; it must not go first.
    key = uuid.uuid4()
    late = await pool.acquire()
    open_transaction = late.transaction()
    await open_transaction.start()
    await outbox.add(late, request("owner/first", key))  # id 1, not committed yet
    await commit(pool, outbox, request("owner/other"))  # id 2

    async def late_commit_then_next_event() -> None:
        await open_transaction.commit()
        await pool.release(late)
        await commit(pool, outbox, request("owner/second", key))  # id 3

    relay = PausingRelay(
        pool, kafka_bootstrap, outbox, topic_prefix=topic_prefix, batch_size=1, between=late_commit_then_next_event
    )
    async with relay.producing():
        while await relay.relay_once():
            pass

    records = await read_topic(kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=3, settle=1.0)
    of_key = [decode(r.value).data["dataset"] for r in records if r.key == str(key).encode()]
    assert of_key == ["owner/first", "owner/second"]
