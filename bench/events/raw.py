"""The baseline: plain aiokafka, producer and group consumer, with nothing of hubstream in between.

An idempotent producer sends messages the size of our encoded envelope to a fresh topic with as many
partitions as hubstream's; a group consumer reads them with a manual commit after every `getmany`,
as EventConsumer commits. Latency is the send time carried in the payload to the moment the consumer
sees the record.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import struct
import time
from contextlib import AsyncExitStack
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import NewTopic

from bench.events.infra import Target
from bench.events.plan import Plan, paced, random_uuid
from bench.events.report import PhaseResult
from bench.events.tasks import stop, until
from bench.events.tracking import Tracker, machine_notes
from contracts.topics import INGEST_STATUS
from services.runtime.kafka import admin_context

RAW_HEADER = struct.Struct("<dq")  # send time (perf_counter seconds), sequence number (negative: warm-up)
MAX_RECORDS = 200  # records per getmany: EventConsumer's default


async def raw_phase(target: Target, plan: Plan, args: argparse.Namespace, payload_bytes: int) -> PhaseResult:
    topic = f"{target.prefix}raw.{plan.slug}"
    async with admin_context(target.bootstrap) as admin:
        await admin.create_topics([NewTopic(topic, INGEST_STATUS.partitions, 1)])
    target.topics.append(topic)

    rng = random.Random(args.seed)
    keys = [str(random_uuid(rng)).encode() for _ in range(1000)]
    padding = b"x" * max(0, payload_bytes - RAW_HEADER.size)
    tracker = Tracker(plan.total, args.warmup)
    result = PhaseResult("raw", plan.label, plan.kind, plan.total)
    acks: list[asyncio.Future[Any]] = []
    stopping = asyncio.Event()

    producer = AIOKafkaProducer(bootstrap_servers=target.bootstrap, enable_idempotence=True, linger_ms=5)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=target.bootstrap,
        group_id=topic,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )

    async def consume() -> None:
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=MAX_RECORDS)
            for records in batches.values():
                for record in records:
                    sent_at, seq = RAW_HEADER.unpack_from(record.value)
                    tracker.received(seq, time.perf_counter(), sent_at=sent_at)
            if batches:
                await consumer.commit()

    async def send(seq: int, *, warmup: bool = False) -> None:
        at = time.perf_counter()
        tracker.sent(seq, at, warmup=warmup)
        acks.append(await producer.send(topic, RAW_HEADER.pack(at, seq) + padding, key=rng.choice(keys)))

    async with AsyncExitStack() as stack:
        # aiokafka wants stop() even after a failed start(), so register it first.
        stack.push_async_callback(producer.stop)
        await producer.start()
        stack.push_async_callback(consumer.stop)
        await consumer.start()
        consuming = asyncio.create_task(consume())
        stack.push_async_callback(stop, stopping, [consuming])
        try:
            async with asyncio.timeout(args.phase_timeout):
                # Warm-up: the group join and the metadata fetches happen here, not in the measured part.
                for i in range(args.warmup):
                    await send(-1 - i, warmup=True)
                await until(tracker.warm, [consuming])
                async with machine_notes(result):
                    if plan.rate is None:
                        for seq in range(plan.total):
                            await send(seq)
                            if seq % 100 == 99:
                                await asyncio.sleep(0)  # send() rarely suspends: let the consumer read meanwhile
                    else:
                        seq = 0
                        async for size in paced(plan):
                            for _ in range(size):
                                await send(seq)
                                seq += 1
                    await until(tracker.done, [consuming])
                outcomes = await asyncio.gather(*acks, return_exceptions=True)
                result.failed_sends = sum(isinstance(o, BaseException) for o in outcomes)
        except TimeoutError:
            result.timed_out = True
    return tracker.fill(result)
