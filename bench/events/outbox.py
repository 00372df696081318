"""hubstream's path: writers commit through `Outbox.add`, `OutboxRelay` publishes, `EventConsumer` handles.

The consumer's handler is transactional, so every event takes an inbox claim, as in production. The
three production processes (API, relay, worker) run here in one, each with its own pool. Two kinds of
phase:

* writers_phase (saturation+writers, and the moderate rate): `--writers` concurrent writers commit small
  transactions (1..`--max-batch` events) while the relay and the consumer run. Latency is the end of the
  writing transaction's commit to the commit of the consumer's inbox transaction (the effect is stored).
  At saturation the figures include the writers' own PostgreSQL commits, competing with the path for
  this process and the machine's cores.
* drain_phase: the same writers fill the outbox first, with the relay and the consumer stopped and
  untimed; then the relay starts and the clock runs until the last event is handled. That is the event
  path alone, which is what the throughput goal is about.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import asyncpg

from bench.events.infra import Target
from bench.events.payload import SOURCE, SOURCES, progress_events
from bench.events.plan import Plan, paced, random_uuid
from bench.events.report import PhaseResult
from bench.events.tasks import Loop, raise_if_ended, released, running, until
from bench.events.timed_consumer import TimedConsumer
from bench.events.timed_relay import Stages, TimedRelay
from bench.events.tracking import Tracker, machine_notes
from contracts.ingest import IndexProgress
from contracts.topics import INGEST_STATUS
from services.runtime import db, migrations
from services.runtime.consumer import Received
from services.runtime.kafka import ensure_topics, producer_context
from services.runtime.outbox import Outbox


@dataclass
class Pipeline:
    """One phase's writers, relay and consumer, with what measures them."""

    outbox: Outbox
    api_pool: asyncpg.Pool
    relay: TimedRelay
    consumer: TimedConsumer
    relay_loop: Loop
    consumer_loop: Loop
    tracker: Tracker
    stages: Stages
    rng: random.Random
    sources: list[uuid.UUID]
    transactions: int = 0  # measured ones

    async def write(self, size: int, *, warmup: bool = False) -> None:
        # One transaction reports progress of one source, as an indexing run does.
        events = progress_events(self.rng.choice(self.sources), size)
        async with self.api_pool.acquire() as conn:
            async with conn.transaction():
                envelopes = await self.outbox.add(conn, *events)
            committed = time.perf_counter()
        for envelope in envelopes:
            self.tracker.sent(envelope.id, committed, warmup=warmup)
        if not warmup:
            self.transactions += 1

    async def warm_up(self, args: argparse.Namespace) -> None:
        """Start the relay and the consumer, and wait until warm-up events have gone all the way through.

        They absorb the group join, metadata fetches, the relay's start-up and the pools' first connections.
        """
        self.relay_loop.start()
        self.consumer_loop.start()
        left = args.warmup
        while left > 0:
            size = min(left, args.max_batch)
            await self.write(size, warmup=True)
            left -= size
        await until(self.tracker.warm, self.running())

    def reset_counters(self, plan: Plan, args: argparse.Namespace) -> None:
        # `published` counts from the relay's first start; the last warm-up batch may not be marked yet.
        self.relay.reset(target=args.warmup + plan.total)
        self.consumer.reset()

    async def write_all(self, plan: Plan, writers: int) -> None:
        """As fast as `writers` concurrent writers can commit."""
        bursts = iter(plan.bursts)  # shared: each writer takes the next transaction's size

        async def writer() -> None:
            for size in bursts:
                await self.write(size)

        async with asyncio.TaskGroup() as group:
            for _ in range(writers):
                group.create_task(writer())

    async def write_paced(self, plan: Plan, writers: int) -> None:
        """At the plan's rate, with up to `writers` transactions open at once."""
        slots = asyncio.Semaphore(writers)
        async with asyncio.TaskGroup() as group:
            async for size in paced(plan):
                await slots.acquire()
                group.create_task(released(slots, self.write(size)))

    def running(self) -> list[asyncio.Task[None]]:
        return running(self.relay_loop, self.consumer_loop)

    def writers_rate(self, plan: Plan) -> float:
        """Events/s the writers committed, from their first measured commit to their last."""
        writing = self.tracker.last_sent - self.tracker.first_sent
        return plan.total / writing if writing > 0 else math.nan

    def writers_note(self, plan: Plan, when: str) -> str:
        writing = self.tracker.last_sent - self.tracker.first_sent
        return (
            f"writers{when}: {self.transactions} transactions committed in {writing:.2f} s "
            f"({self.writers_rate(plan):.0f} events/s)"
        )


@asynccontextmanager
async def pipeline(target: Target, plan: Plan, args: argparse.Namespace) -> AsyncIterator[Pipeline]:
    """A Pipeline on the phase's own schema and topics; its loops are stopped when the block ends."""
    schema = f"bench_{plan.slug}"  # its own outbox and inbox: no rows left over from another phase
    prefix = f"{target.prefix}{plan.slug}."
    await migrations.migrate(target.database_url, schema, migrations.load(migrations.RUNTIME_SQL / "core", "runtime"))
    target.topics += await ensure_topics(target.bootstrap, [INGEST_STATUS], prefix=prefix)

    rng = random.Random(args.seed)
    tracker = Tracker(plan.total, args.warmup)
    stages = Stages()
    async with AsyncExitStack() as stack:
        # One pool per production process: API (writers), relay, worker (consumer).
        api_pool = await stack.enter_async_context(
            db.pool_context(target.database_url, schema, min_size=args.writers, max_size=args.writers)
        )
        relay_pool = await stack.enter_async_context(db.pool_context(target.database_url, schema, max_size=3))
        worker_pool = await stack.enter_async_context(db.pool_context(target.database_url, schema, max_size=2))
        producer = await stack.enter_async_context(producer_context(target.bootstrap))
        outbox = Outbox(schema=schema, source=SOURCE)
        relay = TimedRelay(relay_pool, target.bootstrap, outbox, topic_prefix=prefix)
        consumer = TimedConsumer(
            group="bench", bootstrap=target.bootstrap, pool=worker_pool, producer=producer, topic_prefix=prefix
        )

        async def handler(message: Received[IndexProgress], conn: asyncpg.Connection) -> None:
            consumer.handler_ran(message, time.perf_counter())

        def committed(message: Received[IndexProgress], ran_at: float, at: float) -> None:
            # Handled means its inbox transaction has committed: only then is the effect there for good.
            stages.add(tracker.sent_at(message.envelope.id), relay, message.envelope.id, ran_at, at)
            tracker.received(message.envelope.id, at)

        consumer.on(IndexProgress, handler, transactional=True)
        consumer.on_committed = committed
        sources = [random_uuid(rng) for _ in range(SOURCES)]
        p = Pipeline(
            outbox, api_pool, relay, consumer, Loop(relay.run), Loop(consumer.run), tracker, stages, rng, sources
        )
        # Registered after the pools and the producer, so the loops stop before those close.
        stack.push_async_callback(p.relay_loop.stop)
        stack.push_async_callback(p.consumer_loop.stop)
        yield p


async def writers_phase(target: Target, plan: Plan, args: argparse.Namespace) -> PhaseResult:
    """Writers commit while the relay and the consumer run: as fast as they can, or at the plan's rate."""
    result = PhaseResult("hubstream", plan.label, plan.kind, plan.total)
    consumer_time = "consumer time: not measured (the phase did not finish)"
    async with pipeline(target, plan, args) as p:
        try:
            async with asyncio.timeout(args.phase_timeout):
                await p.warm_up(args)
                p.reset_counters(plan, args)
                async with machine_notes(result):
                    if plan.rate is None:
                        await p.write_all(plan, args.writers)
                    else:
                        await p.write_paced(plan, args.writers)
                    await until(p.tracker.done, p.running())
                # Now, not after the loops stop: the consumer's idle polls from here on are not the phase's.
                consumer_time = p.consumer.time_summary(p.tracker.last_received - p.tracker.first_sent)
        except TimeoutError:
            result.timed_out = True
    tracker = p.tracker
    tracker.fill(result)
    if tracker.arrivals:
        result.notes += [
            p.writers_note(plan, ""),
            p.relay.summary(tracker.first_sent, "the first commit"),
            p.consumer.summary(),
            consumer_time,
            p.stages.summary(),
        ]
        result.stage_p99_ms = p.stages.p99_ms()
    return result


async def drain_phase(target: Target, plan: Plan, args: argparse.Namespace) -> PhaseResult:
    """Fill the outbox with nothing reading it, then time the relay and the consumer emptying it."""
    result = PhaseResult("hubstream", plan.label, plan.kind, plan.total)
    started = math.nan
    consumer_time = "consumer time: not measured (the phase did not finish)"
    async with pipeline(target, plan, args) as p:
        try:
            async with asyncio.timeout(args.phase_timeout):
                await p.warm_up(args)
                await asyncio.gather(p.relay_loop.stop(), p.consumer_loop.stop())
                await p.write_all(plan, args.writers)  # untimed
                result.writers_alone_events_per_second = p.writers_rate(plan)
                # The consumer rejoins its group before the clock starts, as the raw consumer has joined
                # before its phase is timed: a group join measures the broker's coordinator, not the path.
                p.consumer_loop.start()
                while not p.consumer.assigned():
                    raise_if_ended(p.running())
                    await asyncio.sleep(0.01)
                async with machine_notes(result):
                    p.reset_counters(plan, args)
                    started = p.stages.origin = time.perf_counter()
                    p.relay_loop.start()
                    await until(p.tracker.done, p.running())
                    consumer_time = p.consumer.time_summary(p.tracker.last_received - started)
                    result.consumer_busy_seconds = p.consumer.busy_s
        except TimeoutError:
            result.timed_out = True
    tracker = p.tracker
    tracker.fill(result, drain_started=started)
    if tracker.arrivals:
        result.startup_seconds = p.relay.first_fetch_at - started
        result.relay_done_seconds = p.relay.target_reached_at - started
        result.notes += [
            p.writers_note(plan, " (untimed, before the relay started)"),
            f"relay start-up (advisory lock, LISTEN, recover) {result.startup_seconds * 1000:.1f} ms "
            "before its first read of the outbox",
            p.relay.summary(started, "its start"),
            p.consumer.summary(),
            consumer_time,
            p.stages.summary(),
        ]
    return result
