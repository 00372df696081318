"""Transactional outbox: events commit with the state change that causes them.

Writers call `Outbox.add(conn, *events)` inside their transaction. The rows
become visible to the relay only when that transaction commits, so a rolled
back change publishes nothing. A NOTIFY (also sent only at commit) wakes the
relay at once; it polls as well, in case a notification is missed.

Per-aggregate order: writers of one aggregate serialise on its row (SELECT ...
FOR UPDATE or an UPDATE), so within a key, outbox ids follow commit order, and
the relay publishes in id order.

Fencing: the relay publishes in Kafka transactions under one
`transactional.id` per outbox (schema and topic prefix), and starts its
producer only once it holds the outbox's advisory lock. A relay whose
database session died has lost the lock without knowing it; when its
successor's producer starts, the broker fences the old one: its open
transaction is aborted and nothing it sends afterwards is committed, so a
`read_committed` consumer never sees it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import ProducerFenced, UnknownTopicOrPartitionError
from aiokafka.structs import TopicPartition

from contracts import CloudEvent, Event, encode, wrap
from contracts.envelope import CONTENT_TYPE
from contracts.headers import CONTENT_TYPE_HEADER, OUTBOX_EVENT, OUTBOX_ID, OUTBOX_SOURCE
from services.runtime.db import DatabaseUnavailable
from services.runtime.kafka import BrokerUnavailable, make_consumer, partition_for, producer_context
from services.runtime.stopping import sleep_unless, wait_any

log = logging.getLogger(__name__)

HEADER_OUTBOX_SOURCE = OUTBOX_SOURCE.name  # the schema whose outbox published it
HEADER_OUTBOX_ID = OUTBOX_ID.name  # the row id (for people; ids restart with a new database)
HEADER_OUTBOX_EVENT = OUTBOX_EVENT.name  # the CloudEvents id, unique for good: what recovery matches on

# Below the producer's 1 MB request limit: an event that big would block its outbox forever, so the
# transaction that writes it fails instead, where the caller can see why.
MAX_EVENT_BYTES = 900_000

# A relay cycle reads up to BATCH_SIZE rows at a time and keeps up to BATCHES_IN_FLIGHT batches on their way
# in one Kafka transaction: at most BATCH_SIZE * BATCHES_IN_FLIGHT events per transaction.
BATCH_SIZE = 500
BATCHES_IN_FLIGHT = 4


# Marking: published rows leave `outbox` for `outbox_published`, in one statement.
MARK = (
    "WITH moved AS (DELETE FROM outbox WHERE id = ANY($1::bigint[]) "
    "RETURNING id, event_id, topic, key, event_type, created_at) "
    "INSERT INTO outbox_published (id, event_id, topic, key, event_type, created_at) SELECT * FROM moved "
    # Ids restart when an outbox is recreated (a restore, a test); an old archived row must not block the relay.
    "ON CONFLICT (id) DO NOTHING"
)


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
        # One statement, one round trip: the rows as arrays, and the NOTIFY in the same query. A writer's
        # transaction is BEGIN, its own change, this, COMMIT; each round trip more costs it about a fifth.
        columns = list(zip(*rows, strict=True))
        await conn.execute(
            "WITH added AS (INSERT INTO outbox (event_id, topic, key, event_type, payload) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[])) "
            "SELECT pg_notify($6, '')",
            *columns,
            self.channel,
        )
        return envelopes


@dataclass(frozen=True)
class PendingRow:
    id: int
    event_id: str
    topic: str
    key: str
    payload: bytes


class OutboxRelay:
    """Publishes committed outbox rows to Kafka, in id order, then marks them (moves them to `outbox_published`).

    One relay is active per schema (a PostgreSQL advisory lock); others wait as
    standbys. A cycle (`relay_once`) opens a Kafka transaction, sends up to
    `batches_in_flight` batches (the next batch is read from the database while
    the previous ones are on their way), commits, and marks its rows in one
    statement, which may run while the next cycle reads and sends. Each mark
    waits for the one before, so rows are marked in the order they were
    published.

    A crash between the commit and the mark would publish a cycle twice; to
    prevent it, a relay that takes over first reads back the tail of the
    partitions its pending rows map to, up to the end offsets taken when it
    starts, and marks the rows it finds there (`recover`). Every message
    carries `outbox.source` and `outbox.event` headers for that purpose. A
    crash before the commit leaves an open transaction, which the successor's
    producer aborts: those rows are sent again, and only that copy is visible.

    The relay reads rows on the connection that holds the lock: if that session
    dies, the lock goes with it, and the producer of whoever takes the lock
    next fences this one. Marks run on another connection of the pool, beside
    the next cycle (see `relay_once`).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        bootstrap: str,
        outbox: Outbox,
        *,
        topic_prefix: str = "",
        batch_size: int = BATCH_SIZE,
        batches_in_flight: int = BATCHES_IN_FLIGHT,
        poll_interval: float = 1.0,
        recovery_timeout: float = 30.0,
    ) -> None:
        self._pool = pool
        self._bootstrap = bootstrap
        self._outbox = outbox
        # The outbox keeps canonical topic names; the deployment's prefix is applied when publishing.
        self._prefix = topic_prefix
        self._batch_size = batch_size
        self._batches_in_flight = max(1, batches_in_flight)
        self._poll_interval = poll_interval
        self._recovery_timeout = recovery_timeout
        self._wake = asyncio.Event()
        self._lock_conn: asyncpg.Connection | None = None
        self._producer: AIOKafkaProducer | None = None
        self._source = outbox.schema.encode()
        # The mark of the last full cycle, still running while the next cycle reads and sends, and its rows.
        self._marking: asyncio.Task[None] | None = None
        self._marking_ids: list[int] = []
        self.published = 0
        self.recovered = 0  # rows marked by recovery: published by an earlier relay that did not mark them
        self.transactions = 0

    @property
    def _db(self) -> asyncpg.Connection | asyncpg.Pool:
        return self._lock_conn if self._lock_conn is not None else self._pool

    @property
    def lock_name(self) -> str:
        return f"hubstream.outbox.{self._outbox.schema}"

    @property
    def transactional_id(self) -> str:
        """One per outbox and deployment: a producer that starts under it fences every earlier one."""
        return f"hubstream.outbox.{self._prefix}{self._outbox.schema}"

    @asynccontextmanager
    async def producing(self) -> AsyncIterator[None]:
        """Start this relay's transactional producer: from then on, earlier relays of this outbox are fenced.

        Its start returns once the broker has aborted (or finished committing) the transaction an earlier
        relay left open, so the partitions' ends read after it are final for everything sent before.
        """
        async with producer_context(self._bootstrap, transactional_id=self.transactional_id) as producer:
            self._producer = producer
            try:
                yield
            finally:
                self._producer = None
                # The last mark finishes; if it fails, those rows are recovered by the next relay.
                with suppress(Exception):
                    await self.settle()

    def _active_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise OutboxError("the relay publishes only inside `async with relay.producing()`")
        return self._producer

    async def fetch_pending(self, limit: int | None = None, *, sent: Collection[int] = ()) -> list[PendingRow]:
        """The first unpublished rows in id order, but for those being marked and those `sent` already.

        Always from the lowest id, never from where the last batch ended: ids are taken when a row is
        written, not when it commits, so a row can commit after rows with higher ids were read. Reading on
        from the last id would skip it, and send the next event of its key ahead of it (that one was
        written after it committed).
        """
        # `NOT IN (SELECT unnest(...))`, not `<> ALL(...)`: once asyncpg's prepared statement goes to a generic
        # plan, `<> ALL` compares every row with every id excluded (70-80 ms for 2,000 ids, most of a cycle),
        # while the subquery is hashed whatever the plan.
        rows = await self._db.fetch(
            "SELECT id, event_id, topic, key, payload FROM outbox "
            "WHERE id NOT IN (SELECT unnest($2::bigint[])) ORDER BY id LIMIT $1",
            limit or self._batch_size,
            [*self._marking_ids, *sent],
        )
        return [PendingRow(r["id"], r["event_id"], self._prefix + r["topic"], r["key"], r["payload"]) for r in rows]

    async def _partition_count(self, topic: str) -> int:
        try:
            partitions = await self._active_producer().partitions_for(topic)
        except UnknownTopicOrPartitionError as exc:
            raise OutboxError(f"topic {topic} does not exist on the broker; run `hubstream migrate`") from exc
        return len(partitions)

    def headers(self, row: PendingRow) -> list[tuple[str, bytes]]:
        """The headers of `row`'s message: every one of contracts.headers.OUTBOX_HEADERS, in its order."""
        return [
            (CONTENT_TYPE_HEADER.name, CONTENT_TYPE.encode()),
            (OUTBOX_SOURCE.name, self._source),
            (OUTBOX_ID.name, str(row.id).encode()),
            (OUTBOX_EVENT.name, row.event_id.encode()),
        ]

    async def _send(self, rows: list[PendingRow], partitions: dict[str, int]) -> list[asyncio.Future[Any]]:
        """Hand rows to the producer, in order; the futures settle when the broker acknowledges them."""
        producer = self._active_producer()
        futures: list[asyncio.Future[Any]] = []
        try:
            for row in rows:
                if row.topic not in partitions:
                    partitions[row.topic] = await self._partition_count(row.topic)
                futures.append(
                    await producer.send(
                        row.topic,
                        value=row.payload,
                        key=row.key.encode(),
                        partition=partition_for(row.key, partitions[row.topic]),
                        headers=self.headers(row),
                    )
                )
        except BaseException:
            await asyncio.gather(*futures, return_exceptions=True)  # what was handed over settles first
            raise
        return futures

    async def wait_acked(self, rows: list[PendingRow], futures: list[asyncio.Future[Any]]) -> None:
        """Wait until the broker has acknowledged (or refused) every send of a batch; raise the first refusal."""
        for result in await asyncio.gather(*futures, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result

    async def publish(self, rows: list[PendingRow]) -> None:
        """Send rows in one Kafka transaction and commit it; the rows are not marked (see `relay_once`)."""
        await self._in_transaction([rows])

    async def relay_once(self) -> int:
        """One cycle: pending rows in one transaction, several batches in flight; then mark them. How many.

        A cycle that found the outbox empty marks before it returns. A full one (more may be waiting)
        leaves its mark running while the next cycle reads and sends; the next mark waits for it, so
        rows are marked in the order they were published, which recovery relies on.
        """
        rows = await self.fetch_pending()
        if not rows:
            await self.settle()
            return 0
        sent = await self._in_transaction([rows], more=True)
        await self.settle()
        self._marking_ids = [r.id for r in sent]
        self._marking = asyncio.create_task(self.mark(self._marking_ids))
        if len(sent) < self._batch_size:
            await self.settle()
        self.published += len(sent)
        return len(sent)

    async def settle(self) -> None:
        """Wait for the mark still running, if any; its failure is raised here."""
        marking, self._marking = self._marking, None
        try:
            if marking is not None:
                await marking
        finally:
            self._marking_ids = []

    async def _in_transaction(self, batches: list[list[PendingRow]], *, more: bool = False) -> list[PendingRow]:
        """Publish `batches` (and, if `more`, the batches that follow in the outbox) in one committed transaction.

        Sends are handed to the producer strictly in id order (a key's events keep their order); only the
        waits for acknowledgements overlap with reading the next batch. Returns the rows sent.
        """
        producer = self._active_producer()
        partitions: dict[str, int] = {}  # partition count per topic, looked up once per transaction
        sent: list[PendingRow] = []
        acks: list[asyncio.Task[None]] = []
        await producer.begin_transaction()
        try:
            try:
                pending = list(batches)
                while pending:
                    rows = pending.pop(0)
                    futures = await self._send(rows, partitions)
                    sent += rows
                    acks.append(asyncio.create_task(self.wait_acked(rows, futures)))
                    full = len(rows) >= self._batch_size
                    if more and full and not pending and len(acks) < self._batches_in_flight:
                        # Read the next batch while this one is on its way to the broker.
                        following = await self.fetch_pending(sent=[r.id for r in sent])
                        if following:
                            pending.append(following)
            finally:
                # Every send settles before this returns, refused or not: nothing is left running.
                outcomes = await asyncio.gather(*acks, return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            await producer.commit_transaction()
        except BaseException:
            await self._abandon(producer)
            raise
        self.transactions += 1
        return sent

    async def _abandon(self, producer: AIOKafkaProducer) -> None:
        """Abort the open transaction if the producer still can; if not, the next producer's start aborts it."""
        with suppress(Exception):
            await asyncio.wait_for(producer.abort_transaction(), timeout=5)

    async def mark(self, ids: list[int]) -> None:
        # On a pool connection, not the lock's, so that it can run beside the next cycle's reads. Safe with
        # fencing: a relay marks only what its committed transaction published, so a relay that lost its
        # lock marks rows that really went out (which its successor's recovery marks as well).
        # A move, not an UPDATE of a flag (sql/core/003_outbox_published.sql says why). Only rows this statement
        # deleted are copied, so two relays marking the same rows (a fenced one and its successor's recovery)
        # copy each once: the second DELETE waits for the first and then finds nothing.
        await self._pool.execute(MARK, ids)

    async def recover(self) -> int:
        """Mark pending rows that a previous relay published but did not mark. Returns how many.

        Call it after `producing()` has started: then no earlier relay can still commit anything.
        """
        # Only where each pending row would have gone; payloads stay in the database, and a key's rows
        # share a partition, so the partitioner runs once per key.
        pending = await self._db.fetch(
            "SELECT topic, key, array_agg(id) AS ids, array_agg(event_id) AS event_ids FROM outbox GROUP BY topic, key"
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
        consumer = make_consumer(self._bootstrap, fetch_max_wait_ms=50)
        try:
            await consumer.start()  # inside: a failed start must still close the client
            found: set[int] = set()
            async with asyncio.timeout(self._recovery_timeout):
                # The ends are taken once, now: everything an earlier relay committed lies below them (its
                # producer is fenced), and records that arrive later are not ours to look for.
                ends = await self._high_watermarks(list(by_partition))
                for tp, ids in by_partition.items():
                    found |= await self._published_on(consumer, tp, ends[tp], ids)
        except TimeoutError as exc:
            raise OutboxError(
                f"recovery could not read the ends of {len(by_partition)} partition(s) within "
                f"{self._recovery_timeout:.0f} s; is the broker slow or down?"
            ) from exc
        finally:
            await consumer.stop()
        if found:
            await self.mark(sorted(found))
            self.recovered += len(found)
            log.warning(
                "outbox %s: %d event(s) were published before a crash but not marked; marked them now, not sent again",
                self._outbox.schema,
                len(found),
            )
        return len(found)

    async def _high_watermarks(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The partitions' ends, open transactions included.

        Not the committed end a `read_committed` consumer is given: an outside producer's transaction
        (topics that "any" system may write) that is still open holds that end back, and our committed
        records after it would be missed and sent again. Reading up to these ends waits for it instead.
        """
        probe = make_consumer(self._bootstrap, isolation_level="read_uncommitted")
        try:
            await probe.start()
            # Assigned first, so the client fetches their metadata now: asked for the ends of partitions it has
            # no metadata for, it fails the request as stale and retries after `retry_backoff_ms` (100 ms, half
            # a takeover's time when little is pending).
            probe.assign(partitions)
            return await probe.end_offsets(partitions)
        finally:
            await probe.stop()

    async def _published_on(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, pending: dict[str, int]
    ) -> set[int]:
        """Ids of the pending rows (by event id) found at the end of `tp`, below offset `end`."""
        # Cycles are published and marked one at a time, so every unmarked publication lies after the last
        # marked one on its partition: read backwards until a message of ours that is not pending.
        consumer.assign([tp])
        begin = (await consumer.beginning_offsets([tp]))[tp]
        high = end
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
        if values.get(HEADER_OUTBOX_SOURCE) != self._source:
            return None
        raw = values.get(HEADER_OUTBOX_EVENT)
        return raw.decode() if raw is not None else None

    async def run(self, stopping: asyncio.Event) -> None:
        """Relay until `stopping` is set; survives broker and database outages by retrying."""
        while not stopping.is_set():
            try:
                await self._run_holding_lock(stopping)
            except ProducerFenced:
                log.warning(
                    "outbox relay %s: another relay has taken over (this one lost its lock with its database "
                    "session); what it had not committed is discarded; standing by",
                    self._outbox.schema,
                )
            except (
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                DatabaseUnavailable,
                BrokerUnavailable,
                OutboxError,
            ) as exc:
                log.error("outbox relay %s: %s; retrying in 2 s", self._outbox.schema, exc)
            except Exception as exc:
                # Other Kafka errors and anything unexpected: log with the cause, back off, compete for the lock.
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
                # The producer starts only now, under the lock: a standby must not fence the active relay.
                async with self.producing():
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
                released = False
                try:
                    # A session that died took the lock with it: nothing to release, and no error to hide the cause.
                    with suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                        await conn.remove_listener(self._outbox.channel, self._on_notify)
                        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", self.lock_name)
                        released = True
                finally:
                    if not released:
                        # Pools do not reset sessions on release (db._keep_session): a connection that may still
                        # hold the lock must never go back to one, where it would keep every relay waiting.
                        conn.terminate()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()


async def _read_range(consumer: AIOKafkaConsumer, tp: TopicPartition, low: int, high: int) -> list[Any]:
    """Committed records of `tp` with offsets in [low, high).

    Reads until the consumer's position passes `high`, not until a fetch comes back empty: aborted
    records and transaction markers take offsets but are never returned, and a slow broker may
    answer a fetch with nothing.
    """
    consumer.seek(tp, low)
    records: list[Any] = []
    while await consumer.position(tp) < high:
        batch = (await consumer.getmany(tp, timeout_ms=200)).get(tp, [])
        records += [r for r in batch if r.offset < high]
    return records
