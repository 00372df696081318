"""`hubstream events replay TOPIC.dlq`: send dead letters back to where they came from.

For after the cause is fixed (a handler bug, a missing row). Each dead letter
goes back to its original topic with its key, value and headers, minus the
`dlq.*` ones, and is committed by a replay group of its own, so running the
command twice replays nothing twice. Replays stop when the topic is drained.
"""

from __future__ import annotations

import sys

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata

from contracts.topics import DLQ_SUFFIX, topic_named
from services.runtime.dlq import HEADER_PREFIX
from services.runtime.kafka import producer_context
from services.runtime.settings import InfraSettings


async def replay(infra: InfraSettings, topic: str, *, limit: int | None = None) -> int:
    """Replay up to `limit` dead letters of `topic` (a `.dlq` name); returns how many were sent."""
    if not topic.endswith(DLQ_SUFFIX):
        raise ValueError(f"{topic} is not a dead-letter topic; replay reads <topic>{DLQ_SUFFIX}")
    topic_named(topic)  # KeyError with the known names if it is not one of ours
    name = infra.topic_prefix + topic
    consumer = AIOKafkaConsumer(
        name,
        bootstrap_servers=infra.kafka,
        group_id=f"hubstream.dlq-replay.{name}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    sent = 0
    try:
        async with producer_context(infra.kafka) as producer:
            while limit is None or sent < limit:
                batches = await consumer.getmany(timeout_ms=2000, max_records=100)
                if not batches:
                    break  # drained
                for tp, records in batches.items():
                    for record in records:
                        if limit is not None and sent >= limit:
                            break
                        headers = dict(record.headers or ())
                        original = headers.get("dlq.original.topic", name.removesuffix(DLQ_SUFFIX).encode()).decode()
                        await producer.send_and_wait(
                            original,
                            value=record.value,
                            key=record.key,
                            headers=[(k, v) for k, v in (record.headers or ()) if not k.startswith(HEADER_PREFIX)],
                        )
                        await consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})
                        sent += 1
    finally:
        await consumer.stop()
    print(f"hubstream: replayed {sent} dead letter(s) from {name}", file=sys.stderr)
    return sent
