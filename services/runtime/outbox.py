"""Transactional outbox: events commit with the state change that causes them.

Writers call `Outbox.add(conn, *events)` inside their transaction. The rows
become visible to the relay only when that transaction commits, so a rolled
back change publishes nothing. A NOTIFY (also sent only at commit) wakes the
relay at once; it polls as well, in case a notification is missed.

Per-aggregate order: writers of one aggregate serialise on its row (SELECT ...
FOR UPDATE or an UPDATE), so within a key, outbox ids follow commit order, and
the relay publishes in id order.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import UnknownTopicOrPartitionError
from aiokafka.structs import TopicPartition

from contracts import CloudEvent, Event, encode, wrap
from contracts.envelope import CONTENT_TYPE
from services.runtime.db import DatabaseUnavailable
from services.runtime.kafka import partition_for
from services.runtime.stopping import sleep_unless, wait_any

log = logging.getLogger(__name__)

HEADER_OUTBOX_SOURCE = "outbox.source"  # the schema whose outbox published it
HEADER_OUTBOX_ID = "outbox.id"  # the row id (for people; ids restart with a new database)
HEADER_OUTBOX_EVENT = "outbox.event"  # the CloudEvents id, unique for good: what recovery matches on

# Below the producer's 1 MB request limit: an event that big would block its outbox forever, so the
# transaction that writes it fails instead, where the caller can see why.
MAX_EVENT_BYTES = 900_000


class OutboxError(RuntimeError):
    pass


@dataclass(frozen=True)
class Outbox:
    """The writing side, for one service (one schema)."""

    schema: str
    source: str  # CloudEvents `source` of the events written here

    @property
    def channel(self) -> str:
        return f"{self.schema}_outbox"

    async def add(self, conn: asyncpg.Connection, *events: Event) -> list[CloudEvent]:
        """Record events in the caller's transaction; they are published after it commits."""
        if not conn.is_in_transaction():
            raise OutboxError("Outbox.add must run inside the transaction that makes the state change")
        envelopes = [wrap(event, source=self.source) for event in events]
        rows = []
        for env, event in zip(envelopes, events, strict=True):
            payload = encode(env)
            if len(payload) > MAX_EVENT_BYTES:
                raise OutboxError(
                    f"{event.event_type} for {event.key()} is {len(payload)} bytes encoded; events are limited to "
                    f"{MAX_EVENT_BYTES} bytes (carry a reference to large data, not the data)"
                )
            rows.append((env.id, event.topic.name, event.key(), event.event_type, payload))
        await conn.executemany(
            "INSERT INTO outbox (event_id, topic, key, event_type, payload) VALUES ($1, $2, $3, $4, $5)", rows
        )
        await conn.execute("SELECT pg_notify($1, '')", self.channel)
        return envelopes


@dataclass(frozen=True)
class PendingRow:
    id: int
    event_id: str
    topic: str
    key: str
    payload: bytes


class OutboxRelay:
    """Publishes committed outbox rows to Kafka, in id order, then marks them.

    One relay is active per schema (a PostgreSQL advisory lock); others wait as
    standbys. A crash between publishing and marking would publish a batch
    twice; to prevent it, a relay that takes over first reads back the tail of
    the partitions its pending rows map to and marks the rows it finds there
    (`recover`). Every message carries `outbox.source` and `outbox.event`
    headers for that purpose.

    The relay reads and marks rows on the connection that holds the lock: if
    that session dies, the lock goes with it and so does this relay's work,
    so two relays are never active at once.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        bootstrap: str,
        outbox: Outbox,
        *,
        topic_prefix: str = "",
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._bootstrap = bootstrap
        self._outbox = outbox
        # The outbox keeps canonical topic names; the deployment's prefix is applied when publishing.
        self._prefix = topic_prefix
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._lock_conn: asyncpg.Connection | None = None
        self.published = 0

    @property
    def _db(self) -> asyncpg.Connection | asyncpg.Pool:
        return self._lock_conn if self._lock_conn is not None else self._pool

    @property
    def lock_name(self) -> str:
        return f"hubstream.outbox.{self._outbox.schema}"

    async def fetch_pending(self, limit: int | None = None) -> list[PendingRow]:
        rows = await self._db.fetch(
            "SELECT id, event_id, topic, key, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
            limit or self._batch_size,
        )
        return [PendingRow(r["id"], r["event_id"], self._prefix + r["topic"], r["key"], r["payload"]) for r in rows]

    async def _partition_count(self, topic: str) -> int:
        try:
            partitions = await self._producer.partitions_for(topic)
        except UnknownTopicOrPartitionError as exc:
            raise OutboxError(f"topic {topic} does not exist on the broker; run `hubstream migrate`") from exc
        return len(partitions)

    async def publish(self, rows: list[PendingRow]) -> None:
        """Send rows and wait until the broker has acknowledged every one.

        Every send settles before this returns, failed or not: a send still in flight when the
        relay gives up could land after a successor's recovery and be sent twice.
        """
        source = self._outbox.schema.encode()
        partitions: dict[str, int] = {}  # partition count per topic, looked up once per batch
        futures: list[asyncio.Future[Any]] = []
        try:
            for row in rows:
                if row.topic not in partitions:
                    partitions[row.topic] = await self._partition_count(row.topic)
                futures.append(
                    await self._producer.send(
                        row.topic,
                        value=row.payload,
                        key=row.key.encode(),
                        partition=partition_for(row.key, partitions[row.topic]),
                        headers=[
                            ("content-type", CONTENT_TYPE.encode()),
                            (HEADER_OUTBOX_SOURCE, source),
                            (HEADER_OUTBOX_ID, str(row.id).encode()),
                            (HEADER_OUTBOX_EVENT, row.event_id.encode()),
                        ],
                    )
                )
        finally:
            results = await asyncio.gather(*futures, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def mark(self, ids: list[int]) -> None:
        await self._db.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", ids)

    async def relay_once(self) -> int:
        rows = await self.fetch_pending()
        if rows:
            await self.publish(rows)
            await self.mark([r.id for r in rows])
            self.published += len(rows)
        return len(rows)

    async def recover(self) -> int:
        """Mark pending rows that a previous relay published but did not mark. Returns how many."""
        # Only where each pending row would have gone; payloads stay in the database, and a key's rows
        # share a partition, so the partitioner runs once per key.
        pending = await self._db.fetch(
            "SELECT topic, key, array_agg(id) AS ids, array_agg(event_id) AS event_ids "
            "FROM outbox WHERE published_at IS NULL GROUP BY topic, key"
        )
        if not pending:
            return 0
        counts = {topic: await self._partition_count(self._prefix + topic) for topic in {r["topic"] for r in pending}}
        by_partition: dict[TopicPartition, dict[str, int]] = {}
        for row in pending:
            topic = self._prefix + row["topic"]
            tp = TopicPartition(topic, partition_for(row["key"], counts[row["topic"]]))
            by_partition.setdefault(tp, {}).update(zip(row["event_ids"], row["ids"], strict=True))
        # A short fetch wait: an empty range must not cost the default 500 ms per partition.
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50)
        try:
            await consumer.start()  # inside: a failed start must still close the client
            found: set[int] = set()
            for tp, ids in by_partition.items():
                found |= await self._published_on(consumer, tp, ids)
        finally:
            await consumer.stop()
        if found:
            await self.mark(sorted(found))
            log.warning(
                "outbox %s: %d event(s) were published before a crash but not marked; marked them now, not sent again",
                self._outbox.schema,
                len(found),
            )
        return len(found)

    async def _published_on(self, consumer: AIOKafkaConsumer, tp: TopicPartition, pending: dict[str, int]) -> set[int]:
        """Ids of the pending rows (by event id) found at the end of `tp`."""
        # Batches are published and marked one at a time, so every unmarked publication lies after the last
        # marked one on its partition: read backwards until a message of ours that is not pending.
        consumer.assign([tp])
        begin = (await consumer.beginning_offsets([tp]))[tp]
        high = (await consumer.end_offsets([tp]))[tp]
        found: set[int] = set()
        window = 256
        while high > begin:
            low = max(begin, high - window)
            for record in reversed(await _read_range(consumer, tp, low, high)):
                event_id = self._own_event_id(record.headers)
                if event_id is None:
                    continue
                if event_id not in pending:
                    return found
                found.add(pending[event_id])
            high = low
        return found

    def _own_event_id(self, headers: Any) -> str | None:
        values = dict(headers or ())
        if values.get(HEADER_OUTBOX_SOURCE) != self._outbox.schema.encode():
            return None
        raw = values.get(HEADER_OUTBOX_EVENT)
        return raw.decode() if raw is not None else None

    async def run(self, stopping: asyncio.Event) -> None:
        """Relay until `stopping` is set; survives broker and database outages by retrying."""
        while not stopping.is_set():
            try:
                await self._run_holding_lock(stopping)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, DatabaseUnavailable, OutboxError) as exc:
                log.error("outbox relay %s: %s; retrying in 2 s", self._outbox.schema, exc)
            except Exception as exc:
                # Kafka errors and anything unexpected: log with the cause, back off, go on.
                log.exception("outbox relay %s failed: %s; retrying in 2 s", self._outbox.schema, exc)
            await sleep_unless(stopping, 2.0)

    async def _run_holding_lock(self, stopping: asyncio.Event) -> None:
        async with self._pool.acquire() as conn:
            while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self.lock_name):
                log.debug("outbox relay %s: another relay is active; standing by", self._outbox.schema)
                if await sleep_unless(stopping, self._poll_interval * 2):
                    return
            await conn.add_listener(self._outbox.channel, self._on_notify)
            self._lock_conn = conn
            try:
                log.info("outbox relay %s: active", self._outbox.schema)
                await self.recover()
                while not stopping.is_set():
                    # Clear before reading: a NOTIFY that lands while we publish must wake the next wait.
                    self._wake.clear()
                    if await self.relay_once() >= self._batch_size:
                        continue  # more waiting: do not sleep
                    await wait_any(stopping, self._wake, timeout=self._poll_interval)
            finally:
                self._lock_conn = None
                await conn.remove_listener(self._outbox.channel, self._on_notify)
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", self.lock_name)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()


async def _read_range(consumer: AIOKafkaConsumer, tp: TopicPartition, low: int, high: int) -> list[Any]:
    """Records of `tp` with offsets in [low, high)."""
    consumer.seek(tp, low)
    records: list[Any] = []
    while True:
        batch = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        if not batch:
            return records  # nothing more to read (the range may hold control records)
        for record in batch:
            if record.offset >= high:
                return records
            records.append(record)
        if batch[-1].offset >= high - 1:
            return records
