"""The baseline: plain aiokafka, producer and group consumer, with nothing of hubstream in between.

Configured like the services, from the same code rather than copies:

* the topic is made by `ensure_topics` from the same contract (INGEST_STATUS: partitions, configuration);
* the producer comes from `producer_context`, as the relay's does (acks, idempotence, linger, batch size,
  compression), and is transactional as the relay's is: at saturation it commits a Kafka transaction every
  BATCH_SIZE * BATCHES_IN_FLIGHT records (the relay's largest cycle), at a fixed rate one per burst (a
  writer's transaction, which the relay publishes in a cycle of its own at that rate);
* the consumer comes from `kafka_source`, as EventConsumer's does (offsets by hand, isolation level, ...),
  polls with EventConsumer's timeout and batch size, and commits with its policy (`GroupedCommits`: at
  most every 200 ms, and when idle);
* each record is the one `OutboxRelay.publish` sends for the same event (payload.relay_records): the
  same CloudEvents bytes, key, partition and headers.

Latency is from the send call to the moment the consumer has the record (a `read_committed` consumer has it
once its transaction is committed).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from contextlib import AsyncExitStack
from typing import Any

from bench.events.infra import Target
from bench.events.payload import SOURCES, envelopes_for, relay_records
from bench.events.plan import Plan, paced, random_uuid
from bench.events.report import PhaseResult
from bench.events.tasks import stop, until
from bench.events.tracking import Tracker, machine_notes
from contracts.topics import INGEST_STATUS
from services.runtime.commits import GroupedCommits
from services.runtime.consumer import MAX_RECORDS, POLL_TIMEOUT_MS
from services.runtime.kafka import ensure_topics, producer_context
from services.runtime.outbox import BATCH_SIZE, BATCHES_IN_FLIGHT, HEADER_OUTBOX_EVENT
from services.runtime.transport import kafka_source


def event_id(headers: Any) -> str:
    """The CloudEvents id a record carries (the relay's header): the tracker's key for it."""
    for name, value in headers or ():
        if name == HEADER_OUTBOX_EVENT:
            return str(value.decode())
    raise ValueError("a record without the relay's event id header")


async def raw_phase(target: Target, plan: Plan, args: argparse.Namespace) -> PhaseResult:
    prefix = f"{target.prefix}raw.{plan.slug}."
    target.topics += await ensure_topics(target.bootstrap, [INGEST_STATUS], prefix=prefix)
    topic = prefix + INGEST_STATUS.name

    rng = random.Random(args.seed)
    sources = [random_uuid(rng) for _ in range(SOURCES)]
    schema = f"bench_{plan.slug}"  # what the hubstream phase's relay names in its headers
    partitions = INGEST_STATUS.partitions
    warming = await relay_records(envelopes_for([1] * args.warmup, rng, sources), topic, partitions, schema)
    measured = await relay_records(envelopes_for(plan.bursts, rng, sources), topic, partitions, schema)
    tracker = Tracker(plan.total, args.warmup)
    result = PhaseResult("raw", plan.label, plan.kind, plan.total)
    acks: list[asyncio.Future[Any]] = []
    stopping = asyncio.Event()

    async with AsyncExitStack() as stack:
        producer = await stack.enter_async_context(producer_context(target.bootstrap, transactional_id=f"{prefix}raw"))
        consumer = kafka_source(target.bootstrap)(f"{prefix}bench", [topic])
        # aiokafka wants stop() even after a failed start(), so register it first.
        stack.push_async_callback(consumer.stop)
        await consumer.start()
        commits = GroupedCommits(consumer, f"{prefix}bench")

        async def consume() -> None:
            while not stopping.is_set():
                batches = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=MAX_RECORDS)
                for tp, records in batches.items():
                    for record in records:
                        tracker.received(event_id(record.headers), time.perf_counter())
                    commits.settle(tp, records[-1].offset)
                await commits.after_poll(bool(batches))
            await commits.flush()

        async def send(n: int, *, warmup: bool = False) -> None:
            record = (warming if warmup else measured)[n]
            tracker.sent(event_id(record.headers), time.perf_counter(), warmup=warmup)
            acks.append(
                await producer.send(
                    record.topic, record.value, key=record.key, partition=record.partition, headers=list(record.headers)
                )
            )

        consuming = asyncio.create_task(consume())
        stack.push_async_callback(stop, stopping, [consuming])
        try:
            async with asyncio.timeout(args.phase_timeout):
                # Warm-up: the group join and the metadata fetches happen here, not in the measured part.
                async with producer.transaction():
                    for i in range(args.warmup):
                        await send(i, warmup=True)
                await until(tracker.warm, [consuming])
                async with machine_notes(result):
                    if plan.rate is None:
                        per_transaction = BATCH_SIZE * BATCHES_IN_FLIGHT
                        for first in range(0, plan.total, per_transaction):
                            async with producer.transaction():
                                for n in range(first, min(first + per_transaction, plan.total)):
                                    await send(n)
                                    if n % 100 == 99:
                                        await asyncio.sleep(0)  # send() rarely suspends: let the consumer read
                    else:
                        n = 0
                        async for size in paced(plan):
                            async with producer.transaction():
                                for _ in range(size):
                                    await send(n)
                                    n += 1
                    await until(tracker.done, [consuming])
                outcomes = await asyncio.gather(*acks, return_exceptions=True)
                result.failed_sends = sum(isinstance(o, BaseException) for o in outcomes)
        except TimeoutError:
            result.timed_out = True
    return tracker.fill(result)
