"""The runtime's consumer, unchanged, with its steps timed: where the consumer's time goes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata, TopicPartition

from services.runtime.consumer import EventConsumer, Received, Routed
from services.runtime.transport import RecordSource, kafka_source

# EventConsumer's private steps that TimedConsumer wraps. If the consumer is reorganised again, fail here,
# loudly, rather than print a consumer line with no figures.
_HOOKS = ("_handle_batches", "_route", "_settle_run", "_settle_at_once", "_settle", "_in_transaction")
_missing = [name for name in _HOOKS if not callable(getattr(EventConsumer, name, None))]
if _missing:
    raise ImportError(
        f"EventConsumer has no {', '.join(_missing)} any more: update bench.events.timed_consumer.TimedConsumer"
    )


class TimedConsumer(EventConsumer):
    """Times EventConsumer's steps.

    Its loop polls Kafka (`getmany`), handles the poll's records, and commits offsets now and then.
    A poll goes through `_handle_batches`: `_route` decodes and parses each record; a run of consecutive
    records for transactional handlers (across partitions) goes to `_settle_run`, which tries
    `_settle_at_once` (one transaction, one `inbox.claim_many`, the handlers in order) and, if that fails
    or the run holds one record, settles record by record (`_settle`, `_in_transaction` each). The
    handler reports when it runs (`handler_ran`), which splits a run into claiming, handlers, and
    commit; once its transaction has committed, `on_committed` gets each message with its handler time
    and commit time: an event counts as handled only then.
    """

    def __init__(self, *, bootstrap: str, **kwargs: Any) -> None:
        open_kafka = kafka_source(bootstrap)

        def open_source(group: str, topics: list[str]) -> RecordSource:
            self.source = _TimedSource(open_kafka(group, topics), self)
            return self.source

        super().__init__(bootstrap=bootstrap, source_factory=open_source, **kwargs)
        self.source: _TimedSource | None = None  # the current run's: the drain phase waits for its assignment
        self._run_first: float | None = None  # first and last handler call of the run in hand
        self._run_last: float | None = None
        # Handler calls of the transaction in hand, with their times: handled once it commits.
        self._in_transaction_now: list[tuple[Received[Any], float]] = []
        self.on_committed: Callable[[Received[Any], float, float], None] = lambda message, ran_at, at: None
        self.reset()

    def reset(self) -> None:
        # Not the `_run_*` times: a reset can come while a run is in hand, and its end must still see its start.
        self.polls = self.empty_polls = 0
        self.poll_s = 0.0  # inside getmany: waiting for records, or fetching them
        self.offset_commits = 0
        self.offset_commit_s = 0.0  # Kafka offset commits (grouped: at most one every 200 ms)
        self.batches = self.records = self.polls_with_records = 0
        self.busy_s = 0.0  # inside _handle_batch
        self.route_s = 0.0  # decode + parse, part of busy_s
        self.runs = self.run_records = 0
        self.run_s = 0.0  # inside _settle_run
        self.claim_s = 0.0  # run start to first handler: pool acquire, BEGIN, inbox claim
        self.handlers_s = 0.0  # first to last handler call
        self.commit_s = 0.0  # last handler call to run end: COMMIT, connection back to the pool
        self.at_once = 0  # runs settled in one transaction
        self.fell_back = 0  # runs whose one transaction failed, then settled record by record
        self.single = 0  # runs of one record: a savepoint straight away
        self.one_by_one = 0  # records settled on their own (`_settle`)

    def assigned(self) -> bool:
        """Whether the current run has joined its group and holds partitions."""
        kafka = self.source.inner if self.source is not None else None
        return isinstance(kafka, AIOKafkaConsumer) and bool(kafka.assignment())

    def handler_ran(self, message: Received[Any], at: float) -> None:
        """Called by the bench's handler, inside the transaction; `on_committed` follows once it commits."""
        if self._run_first is None:
            self._run_first = at
        self._run_last = at
        self._in_transaction_now.append((message, at))

    def _committed(self) -> None:
        at = time.perf_counter()
        for message, ran_at in self._in_transaction_now:
            self.on_committed(message, ran_at, at)
        self._in_transaction_now = []

    async def _handle_batches(
        self, batches: dict[TopicPartition, list[ConsumerRecord]], stopping: asyncio.Event
    ) -> dict[TopicPartition, int]:
        started = time.perf_counter()
        try:
            return await super()._handle_batches(batches, stopping)
        finally:
            self.busy_s += time.perf_counter() - started
            if batches:
                self.polls_with_records += 1
                self.batches += len(batches)
                self.records += sum(len(records) for records in batches.values())

    def _route(self, record: ConsumerRecord) -> Routed | None:
        started = time.perf_counter()
        try:
            return super()._route(record)
        finally:
            self.route_s += time.perf_counter() - started

    async def _settle_run(self, run: list[Routed]) -> None:
        started = time.perf_counter()
        self._run_first = self._run_last = None
        try:
            await super()._settle_run(run)
        finally:
            ended = time.perf_counter()
            self.runs += 1
            self.run_records += len(run)
            self.run_s += ended - started
            if len(run) == 1:
                self.single += 1
            if self._run_first is not None and self._run_last is not None:  # None: all duplicates
                self.claim_s += self._run_first - started
                self.handlers_s += self._run_last - self._run_first
                self.commit_s += ended - self._run_last

    async def _settle_at_once(self, run: list[Routed]) -> bool:
        self._in_transaction_now = []
        settled = await super()._settle_at_once(run)
        if settled:
            self._committed()
            self.at_once += 1
        else:
            self.fell_back += 1
        return settled

    async def _in_transaction(self, routed: Routed) -> bool:
        self._in_transaction_now = []
        fresh = await super()._in_transaction(routed)
        self._committed()
        return fresh

    async def _settle(self, routed: Routed, attempt_once: Callable[[], Awaitable[bool]]) -> None:
        self.one_by_one += 1
        await super()._settle(routed, attempt_once)

    def summary(self) -> str:
        """What the consumer did: records, batches, runs and how they were settled."""
        if not self.records or not self.runs:
            return "consumer: no records"
        per_run = 1000 / self.runs
        return (
            f"consumer: {self.records} records in {self.polls_with_records} polls ({self.batches} partition batches); "
            f"{self.runs} runs of "
            f"{self.run_records / self.runs:.1f} records: {self.at_once} in one transaction, {self.single} of one "
            f"record, {self.fell_back} fell back to per-record ({self.one_by_one} records settled one by one); "
            f"{self.run_s * per_run:.2f} ms/run = {self.claim_s * per_run:.2f} acquire+BEGIN+claim, "
            f"{self.handlers_s * per_run:.2f} handlers, {self.commit_s * per_run:.2f} COMMIT; "
            f"{self.stats.handled} handled (with warm-up), {self.stats.duplicates} duplicates, "
            f"{self.stats.dead_lettered} dead-lettered"
        )

    def time_summary(self, elapsed: float) -> str:
        """Where the consumer's loop spent the phase's `elapsed` seconds (take it when the phase is done)."""
        if not self.records or elapsed <= 0:
            return "consumer time: no records"
        other = elapsed - self.busy_s - self.poll_s  # offset commits run in the background
        per_record_ms = self.route_s * 1000 / self.records
        per_commit_ms = self.offset_commit_s * 1000 / max(1, self.offset_commits)
        return (
            f"consumer time: of {elapsed:.2f} s, {self.busy_s:.2f} s ({self.busy_s / elapsed * 100:.0f} %) handling "
            f"batches (decode+parse {per_record_ms:.3f} ms/record), {self.offset_commit_s:.2f} s in "
            f"{self.offset_commits} Kafka offset commits in the background ({per_commit_ms:.1f} ms each), "
            f"{self.poll_s:.2f} s in "
            f"{self.polls} getmany calls ({self.empty_polls} empty), {other:.2f} s else (other tasks holding the loop)"
        )


class _TimedSource:
    """The consumer's Kafka client with `getmany` and `commit` timed; everything else passes through."""

    def __init__(self, inner: RecordSource, owner: TimedConsumer) -> None:
        self.inner = inner
        self._owner = owner

    async def start(self) -> None:
        await self.inner.start()

    async def getmany(self, *, timeout_ms: int, max_records: int | None) -> dict[TopicPartition, list[ConsumerRecord]]:
        started = time.perf_counter()
        batches = await self.inner.getmany(timeout_ms=timeout_ms, max_records=max_records)
        self._owner.poll_s += time.perf_counter() - started
        self._owner.polls += 1
        if not batches:
            self._owner.empty_polls += 1
        return batches

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        started = time.perf_counter()
        await self.inner.commit(offsets)
        self._owner.offset_commit_s += time.perf_counter() - started
        self._owner.offset_commits += 1

    def assignment(self) -> set[TopicPartition]:
        return self.inner.assignment()

    async def stop(self) -> None:
        await self.inner.stop()
