"""`hubstream events replay TOPIC.dlq`: send dead letters back to where they came from.

For after the cause is fixed (a handler bug, a missing row). Each dead letter
goes back to its original topic with its key, value and headers, minus the
`dlq.*` ones, and is committed by a replay group of its own, so running the
command twice replays nothing twice. A run replays what the topic held when it
started.
"""

from __future__ import annotations

import sys

from aiokafka.structs import OffsetAndMetadata, TopicPartition

from contracts.topics import DLQ_SUFFIX, topic_named
from services.runtime.dlq import HEADER_PREFIX
from services.runtime.kafka import make_consumer, producer_context, topic_partitions
from services.runtime.settings import InfraSettings


async def replay(infra: InfraSettings, topic: str, *, limit: int | None = None) -> int:
    """Replay up to `limit` dead letters of `topic` (a `.dlq` name); returns how many were sent."""
    if not topic.endswith(DLQ_SUFFIX):
        raise ValueError(f"{topic} is not a dead-letter topic; replay reads <topic>{DLQ_SUFFIX}")
    topic_named(topic)  # KeyError with the known names if it is not one of ours
    name = infra.topic_prefix + topic
    partitions = await topic_partitions(infra.kafka, name)
    if not partitions:
        raise ValueError(f"topic {name} does not exist on {infra.kafka}")
    # Partitions are assigned, not subscribed: no group join to wait for. The group id only keeps the
    # committed positions, so a second run starts where the first stopped.
    consumer = make_consumer(infra.kafka, group_id=f"hubstream.dlq-replay.{name}", auto_offset_reset="earliest")
    sent = 0
    try:
        await consumer.start()
        tps = [TopicPartition(name, p) for p in partitions]
        consumer.assign(tps)
        # What is there now is replayed; what dies meanwhile waits for the next run.
        ends = await consumer.end_offsets(tps)
        async with producer_context(infra.kafka) as producer:
            while (limit is None or sent < limit) and any([await consumer.position(tp) < ends[tp] for tp in tps]):
                batches = await consumer.getmany(timeout_ms=1000, max_records=100)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset >= ends[tp] or (limit is not None and sent >= limit):
                            break
                        headers = dict(record.headers or ())
                        original = headers.get("dlq.original.topic", name.removesuffix(DLQ_SUFFIX).encode()).decode()
                        await producer.send_and_wait(
                            original,
                            value=record.value,
                            key=record.key,
                            headers=[(k, v) for k, v in (record.headers or ()) if not k.startswith(HEADER_PREFIX)],
                        )
                        # Committed one by one: an interrupted replay resumes after the last one sent.
                        await consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})
                        sent += 1
    finally:
        await consumer.stop()
    print(f"hubstream: replayed {sent} dead letter(s) from {name}", file=sys.stderr)
    return sent
