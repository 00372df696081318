"""A consumer-group member that hands typed events to handlers, once each.

For every record, in partition order:

1. decode the CloudEvents envelope; a record that is not one is a contract
   failure and goes straight to the dead-letter topic (retrying cannot help);
2. skip event types nobody subscribed to here (other consumers may want them);
3. parse the payload with the subscribed model (tolerant of unknown fields);
   a payload that does not fit is a contract failure as well;
4. run the handler. A transactional handler runs inside a database
   transaction that first claims the event in the inbox, so a redelivered
   event has its effect once. Consecutive records of a poll for transactional
   handlers, across partitions and at most `max_transaction_records`, share
   one transaction and one inbox statement (skipped and dead-lettered records
   between them do not end it), so a batch pays for one commit,
   not one per record; if any of them fails, they are settled one by one
   instead. A handler error is retried with exponential backoff up to
   `max_attempts`, then the record is dead-lettered (`PermanentError` skips
   the retries). A lost database connection is not the record's fault: the
   consumer stops, uncommitted, and its supervisor starts it again;
5. commit the offset only after the record's outcome is settled, so nothing
   is lost when the process stops in between (commits are grouped: at most
   one every `commit_interval`, and always when the consumer stops or idles;
   services/runtime/commits.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka.structs import ConsumerRecord, TopicPartition

from contracts import CloudEvent, ContractError, Event, decode
from services.runtime import inbox
from services.runtime.commits import COMMIT_INTERVAL, GroupedCommits
from services.runtime.db import DatabaseUnavailable
from services.runtime.dlq import send_to_dlq
from services.runtime.transport import RecordSink, RecordSource, SourceFactory, kafka_source

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)

POLL_TIMEOUT_MS = 500  # how long a poll waits for records before the consumer idles (and commits)
MAX_RECORDS = 200  # records per poll
MAX_TRANSACTION_RECORDS = 200  # records settled in one database transaction, at most


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
        max_records: int = MAX_RECORDS,
        max_transaction_records: int = MAX_TRANSACTION_RECORDS,
        topic_prefix: str = "",
        source_factory: SourceFactory | None = None,
        commit_interval: float = COMMIT_INTERVAL,
        instance: str | None = None,
    ) -> None:
        self.group = group
        self._pool = pool
        self._producer = producer
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_records = max_records
        self._max_transaction_records = max_transaction_records
        self._prefix = topic_prefix
        self._commit_interval = commit_interval
        self._open_source = source_factory or kafka_source(bootstrap, instance=instance)
        self._subscriptions: dict[str, Subscription] = {}
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None  # see _transaction
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
    def group_id(self) -> str:
        """The group's id on the broker: the deployment's topic prefix, then `group`.

        Deployments that share a broker (each with a prefix of its own) then keep their groups apart, as
        they keep their topics: a member of one never joins, or rebalances, the other's group. The inbox
        and the dead-letter headers name the group without the prefix, as the deployment knows it.
        """
        return self._prefix + self.group

    @property
    def topics(self) -> list[str]:
        return sorted({self._prefix + s.event.topic.name for s in self._subscriptions.values()})

    async def run(self, stopping: asyncio.Event) -> None:
        """Consume until `stopping` is set, then commit what was handled and stop.

        A dynamic member leaves its group as it stops; a static one (`instance`) keeps its place there for its
        session, for its next start to take back (services/runtime/transport.py).
        """
        consumer = self._open_source(self.group_id, self.topics)
        commits: GroupedCommits | None = None
        try:
            await consumer.start()
            commits = GroupedCommits(consumer, self.group, interval=self._commit_interval)
            self.ready.set()
            log.info("consumer %s: reading %s", self.group, ", ".join(self.topics))
            while not stopping.is_set():
                batches = await self._poll(consumer, stopping)
                for tp, offset in (await self._handle_batches(batches, stopping)).items():
                    commits.settle(tp, offset)
                if not batches:
                    await self._release()  # idle: the connection is more use to others meanwhile
                await commits.after_poll(bool(batches))
        finally:
            self.ready.clear()
            try:
                await self._release()
                if commits is not None:
                    await commits.flush()
            finally:
                await consumer.stop()
                log.info("consumer %s: stopped", self.group)

    async def _poll(
        self, consumer: RecordSource, stopping: asyncio.Event
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The next poll's records; none if `stopping` is set first.

        A shutdown does not wait out the poll's timeout: a service stops its consumers one after another, and
        each idle one held the stop up to POLL_TIMEOUT_MS. Cutting a poll short loses nothing: aiokafka takes
        records from its buffer only once they are there, with no pause between that and returning them, so a
        poll cancelled while it waits has taken none. (A cancelled poll leaves aiokafka's poll-interval
        bookkeeping behind; harmless, since the consumer stops next.)
        """
        polling = asyncio.ensure_future(consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=self._max_records))
        stopped = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait((polling, stopped), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            _abandon(polling)
            raise
        finally:
            stopped.cancel()
        if polling.done():
            return polling.result()  # the poll's records, or its error
        _abandon(polling)
        await asyncio.wait((polling,))  # the poll has ended before the consumer stops
        return {}

    async def _handle_batches(
        self, batches: dict[TopicPartition, list[ConsumerRecord]], stopping: asyncio.Event
    ) -> dict[TopicPartition, int]:
        """Settle a poll's records, each partition's in order; return the offset of the last one settled per partition.

        Consecutive records for transactional handlers form a run, across partitions (the order between
        partitions is free), of at most `max_transaction_records`: one transaction settles them all. Records
        skipped or dead-lettered on the way change nothing, so they do not end a run; a plain handler does.
        """
        done: dict[TopicPartition, int] = {}
        run: list[Routed] = []
        for tp, records in batches.items():
            for record in records:
                try:
                    routed = self._route(record)
                except ContractError as exc:
                    await self._reject(record, exc)
                    routed = None
                if routed is None:
                    pass  # skipped or dead-lettered: nothing of it is stored, so the run goes on past it
                elif routed.subscription.transactional:
                    run.append(routed)
                    if len(run) >= self._max_transaction_records:
                        await self._settle_run(run)
                        run = []
                else:
                    if run:  # keep order: what came before settles before this runs
                        await self._settle_run(run)
                        run = []
                    await self._settle(routed, partial(self._plain, routed))
                done[tp] = record.offset
                if stopping.is_set():
                    break  # finish the records in hand, not the poll
            if stopping.is_set():
                break
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
        try:
            async with self._transaction() as conn:
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

    def _route(self, record: ConsumerRecord) -> Routed | None:
        """The subscription and typed message for `record`; None if nobody here subscribed to its type.

        Raises ContractError for a record that is not a valid event. Not a coroutine: it runs for every
        record, and only a rejected one has anything to wait for (`_reject`).
        """
        envelope = decode(record.value)
        subscription = self._subscriptions.get(envelope.type)
        if subscription is None:
            self._count("skipped")
            return None
        return Routed(subscription, Received(envelope, subscription.event.parse(envelope.data), record))

    async def _reject(self, record: ConsumerRecord, error: ContractError) -> None:
        """Dead-letter a record that breaks its contract: retrying cannot help."""
        log.warning(
            "consumer %s: %s[%d]@%d breaks its contract, sent to %s.dlq: %s",
            self.group,
            record.topic,
            record.partition,
            record.offset,
            record.topic,
            error,
        )
        await send_to_dlq(self._producer, record, group=self.group, kind="contract", error=error, attempts=0)
        self._count("dead_lettered")

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
        envelope = routed.message.envelope
        async with self._transaction() as conn:
            if not await inbox.claim(conn, self.group, envelope.source, envelope.id):
                return False
            await routed.subscription.handler(routed.message, conn)  # type: ignore[call-arg]
            return True

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction on the connection this consumer holds while records keep coming.

        Taken from the pool at the first transaction and given back when the consumer idles or stops
        (`_release`): a busy consumer pays no pool round trip (acquire, and the reset on release) per
        transaction. A connection that was lost is given back too, when the consumer stops for it.
        """
        if self._conn is None:
            assert self._pool is not None
            self._conn = await self._pool.acquire()
        async with self._conn.transaction():
            yield self._conn

    async def _release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            assert self._pool is not None
            await self._pool.release(conn)

    async def _plain(self, routed: Routed) -> bool:
        await routed.subscription.handler(routed.message)  # type: ignore[call-arg]
        return True

    def _count(self, outcome: str) -> None:
        setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)


def _abandon(poll: asyncio.Future[Any]) -> None:
    """Cancel a poll whose outcome nobody will read; an error it ends with anyway is read here, not logged as lost."""
    poll.cancel()
    poll.add_done_callback(lambda done: done.cancelled() or done.exception())
