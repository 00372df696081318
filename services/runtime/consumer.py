"""A consumer-group member that hands typed events to handlers, once each.

For every record, in partition order:

1. decode the CloudEvents envelope; a record that is not one is a contract
   failure and goes straight to the dead-letter topic (retrying cannot help);
2. skip event types nobody subscribed to here (other consumers may want them);
3. parse the payload with the subscribed model (tolerant of unknown fields);
   a payload that does not fit is a contract failure as well;
4. run the handler. A transactional handler runs inside a database
   transaction that first claims the event in the inbox, so a redelivered
   event has its effect once (consecutive records share one transaction
   and one inbox statement, so a batch pays for one commit, not one per
   record; if any of them fails, they are settled one by one instead). A handler error is retried with exponential
   backoff up to `max_attempts`, then the record is dead-lettered
   (`PermanentError` skips the retries);
5. commit the offset only after the record's outcome is settled, so nothing
   is lost when the process stops in between (commits are grouped: at most
   one every `commit_interval`, and always when the consumer stops or idles).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata, TopicPartition

from contracts import CloudEvent, ContractError, Event, decode
from services.runtime import inbox
from services.runtime.db import DatabaseUnavailable
from services.runtime.dlq import send_to_dlq
from services.runtime.transport import RecordSink, RecordSource, SourceFactory, kafka_source

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)


# Failures of the infrastructure rather than of a record: never counted against it, never dead-lettered.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,  # the pool gave no connection in time (db.BoundedPool)
    OSError,
    asyncpg.InterfaceError,  # includes a connection that is closed or was lost
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
)


class PermanentError(Exception):
    """The handler can never succeed with this event: dead-letter it without retrying."""


@dataclass(frozen=True)
class Received(Generic[E]):
    envelope: CloudEvent
    data: E
    record: ConsumerRecord


TxHandler = Callable[[Received[Any], asyncpg.Connection], Awaitable[None]]
PlainHandler = Callable[[Received[Any]], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    event: type[Event]
    handler: TxHandler | PlainHandler
    transactional: bool


@dataclass(frozen=True)
class Routed:
    """A record's typed message (which holds the record) with the subscription that takes it."""

    subscription: Subscription
    message: Received[Any]


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    skipped: int = 0
    retries: int = 0
    dead_lettered: int = 0


class EventConsumer:
    def __init__(
        self,
        *,
        group: str,
        bootstrap: str,
        pool: asyncpg.Pool | None,
        producer: RecordSink,
        max_attempts: int = 5,
        backoff_base: float = 0.2,
        backoff_max: float = 5.0,
        max_records: int = 200,
        topic_prefix: str = "",
        source_factory: SourceFactory | None = None,
        commit_interval: float = 0.2,
    ) -> None:
        self.group = group
        self._pool = pool
        self._producer = producer
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_records = max_records
        self._prefix = topic_prefix
        self._commit_interval = commit_interval
        self._open_source = source_factory or kafka_source(bootstrap)
        self._subscriptions: dict[str, Subscription] = {}
        self.stats = ConsumerStats()
        self.ready = asyncio.Event()

    def on(self, event: type[E], handler: Callable[..., Awaitable[None]], *, transactional: bool = True) -> None:
        """Subscribe `handler` to `event`. Transactional handlers get `(message, conn)`, others `(message)`."""
        if transactional and self._pool is None:
            raise ValueError(f"{self.group}: a transactional handler needs a database pool")
        self._subscriptions[event.event_type] = Subscription(event, handler, transactional)

    @property
    def subscribed(self) -> list[type[Event]]:
        """The event types this consumer handles."""
        return [s.event for s in self._subscriptions.values()]

    @property
    def topics(self) -> list[str]:
        return sorted({self._prefix + s.event.topic.name for s in self._subscriptions.values()})

    async def run(self, stopping: asyncio.Event) -> None:
        """Consume until `stopping` is set, then commit what was handled and leave the group."""
        consumer = self._open_source(self.group, self.topics)
        loop = asyncio.get_running_loop()
        settled: dict[TopicPartition, OffsetAndMetadata] = {}
        try:
            await consumer.start()
            self.ready.set()
            log.info("consumer %s: reading %s", self.group, ", ".join(self.topics))
            last_commit = loop.time()
            while not stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
                for tp, records in batches.items():
                    done = await self._handle_batch(records, stopping)
                    if done is not None:
                        settled[tp] = OffsetAndMetadata(done + 1, "")
                    if stopping.is_set():
                        break
                # A commit is a broker round trip (~7 ms here): commit what is settled at most every
                # `commit_interval`. Anything settled but not yet committed when a process dies comes
                # again, and the inbox (or the handler's own state) absorbs it.
                if settled and (not batches or loop.time() - last_commit >= self._commit_interval):
                    await self._commit(consumer, settled)
                    settled, last_commit = {}, loop.time()
        finally:
            self.ready.clear()
            try:
                if settled:
                    await self._commit(consumer, settled)
            finally:
                await consumer.stop()
                log.info("consumer %s: stopped", self.group)

    async def _commit(self, consumer: RecordSource, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        """Commit what is settled of the partitions this member still owns."""
        assignment = consumer.assignment()
        owned = {tp: meta for tp, meta in offsets.items() if tp in assignment}
        if not owned:
            return
        try:
            await consumer.commit(owned)
        except (CommitFailedError, IllegalStateError) as exc:
            # A rebalance moved partitions away meanwhile: their new owner reads from the last commit,
            # and the inbox absorbs what comes twice.
            log.info("consumer %s: offsets not committed after a rebalance (%s)", self.group, exc)

    async def _handle_batch(self, records: list[ConsumerRecord], stopping: asyncio.Event) -> int | None:
        """Settle records of one partition in order; return the offset of the last one settled."""
        done: int | None = None
        run: list[Routed] = []  # consecutive records for transactional handlers
        for record in records:
            routed = await self._route(record)
            if routed is not None and routed.subscription.transactional:
                run.append(routed)
            else:
                if run:  # keep order: what came before settles before this runs
                    await self._settle_run(run)
                    run = []
                if routed is not None:
                    await self._settle(routed, partial(self._plain, routed))
            done = record.offset
            if stopping.is_set():
                break  # finish the records in hand, not the batch
        if run:
            await self._settle_run(run)
        return done

    async def _settle_run(self, run: list[Routed]) -> None:
        """Settle records for transactional handlers, cheaply when nothing fails.

        First all of them in one transaction with one inbox statement: one commit for the run
        instead of one per record. If a handler fails, that transaction rolls back and the run is
        settled record by record, each in a transaction of its own with its own retries (so a
        record of a failed run is tried once more than `max_attempts`, on its own).
        """
        if len(run) > 1 and await self._settle_at_once(run):
            return
        for routed in run:
            await self._settle(routed, partial(self._in_transaction, routed))

    async def _settle_at_once(self, run: list[Routed]) -> bool:
        assert self._pool is not None
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                ids = [(r.message.envelope.source, r.message.envelope.id) for r in run]
                fresh = await inbox.claim_many(conn, self.group, ids)
                for routed, is_fresh in zip(run, fresh, strict=True):
                    if is_fresh:
                        await routed.subscription.handler(routed.message, conn)  # type: ignore[call-arg]
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:
            log.info("consumer %s: a batch of %d failed (%s); settling it record by record", self.group, len(run), exc)
            return False
        for is_fresh in fresh:
            self._count("handled" if is_fresh else "duplicates")
        return True

    async def _route(self, record: ConsumerRecord) -> Routed | None:
        """The subscription and typed message for `record`; None once it is settled (skipped, dead-lettered)."""
        try:
            envelope = decode(record.value)
            subscription = self._subscriptions.get(envelope.type)
            if subscription is None:
                self._count("skipped")
                return None
            return Routed(subscription, Received(envelope, subscription.event.parse(envelope.data), record))
        except ContractError as exc:
            log.warning(
                "consumer %s: %s[%d]@%d breaks its contract, sent to %s.dlq: %s",
                self.group,
                record.topic,
                record.partition,
                record.offset,
                record.topic,
                exc,
            )
            await send_to_dlq(self._producer, record, group=self.group, kind="contract", error=exc, attempts=0)
            self._count("dead_lettered")
            return None

    async def _settle(self, routed: Routed, attempt_once: Callable[[], Awaitable[bool]]) -> None:
        """Run the handler with bounded retries and backoff; dead-letter the record if it never succeeds."""
        record, envelope = routed.message.record, routed.message.envelope
        attempt = 0
        while True:
            attempt += 1
            try:
                fresh = await attempt_once()
                self._count("handled" if fresh else "duplicates")
                return
            except INFRASTRUCTURE_ERRORS:
                # Not this record's fault: stop here, uncommitted, and let the supervisor restart the
                # consumer once the database (or network) is back. Dead-lettering would lose the event.
                raise
            except Exception as exc:
                if isinstance(exc, PermanentError) or attempt >= self._max_attempts:
                    log.error(
                        "consumer %s: giving up on %s %s after %d attempt(s), sent to %s.dlq: %s",
                        self.group,
                        envelope.type,
                        envelope.id,
                        attempt,
                        record.topic,
                        exc,
                    )
                    await send_to_dlq(
                        self._producer, record, group=self.group, kind="handler", error=exc, attempts=attempt
                    )
                    self._count("dead_lettered")
                    return
                delay = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
                delay *= random.uniform(0.5, 1.0)  # jitter, so retrying consumers do not move in step
                log.warning(
                    "consumer %s: %s %s failed (attempt %d of %d), retrying in %.1f s: %s",
                    self.group,
                    envelope.type,
                    envelope.id,
                    attempt,
                    self._max_attempts,
                    delay,
                    exc,
                )
                self.stats.retries += 1
                await asyncio.sleep(delay)

    async def _in_transaction(self, routed: Routed) -> bool:
        """Claim the event in the inbox and apply the handler, in one transaction."""
        assert self._pool is not None
        envelope = routed.message.envelope
        async with self._pool.acquire() as conn, conn.transaction():
            if not await inbox.claim(conn, self.group, envelope.source, envelope.id):
                return False
            await routed.subscription.handler(routed.message, conn)  # type: ignore[call-arg]
            return True

    async def _plain(self, routed: Routed) -> bool:
        await routed.subscription.handler(routed.message)  # type: ignore[call-arg]
        return True

    def _count(self, outcome: str) -> None:
        setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
