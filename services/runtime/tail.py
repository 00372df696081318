"""`hubstream events tail TOPIC`: what an operator sees of a topic, as it happens."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

from contracts import ContractError, decode
from contracts.topics import topic_named
from services.runtime.dlq import HEADER_PREFIX as DLQ_HEADER_PREFIX
from services.runtime.kafka import BrokerUnavailable, make_consumer, topic_partitions
from services.runtime.settings import InfraSettings


def describe(record: ConsumerRecord) -> dict[str, Any]:
    """A record as an operator wants it: time, type, key, where, data; and why, for dead letters."""
    when = datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(timespec="milliseconds")
    shown: dict[str, Any] = {
        "time": when.replace("+00:00", "Z"),
        "key": record.key.decode(errors="replace") if record.key is not None else None,
        "partition": record.partition,
        "offset": record.offset,
    }
    try:
        envelope = decode(record.value)
        shown.update(type=envelope.type, id=envelope.id, source=envelope.source, data=envelope.data)
        if envelope.time is not None:
            shown["time"] = envelope.time.isoformat().replace("+00:00", "Z")
    except ContractError as exc:
        shown.update(type=None, error=str(exc), raw=(record.value or b"")[:500].decode(errors="replace"))
    dead_letter = {k: v.decode(errors="replace") for k, v in (record.headers or ()) if k.startswith(DLQ_HEADER_PREFIX)}
    if dead_letter:
        shown["dead_letter"] = dead_letter
    return shown


def as_text(shown: dict[str, Any]) -> str:
    head = f"{shown['time']}  {shown.get('type') or '<not a CloudEvent>'}  key={shown['key']}  "
    head += f"p{shown['partition']}@{shown['offset']}"
    if "data" in shown:
        body = orjson.dumps(shown["data"]).decode()
    else:
        body = f"{shown['error']}  raw={shown['raw']!r}"
    lines = [head, f"    {body}"]
    if "dead_letter" in shown:
        d = shown["dead_letter"]
        lines.append(
            f"    dead letter from {d.get('dlq.original.topic')} p{d.get('dlq.original.partition')}"
            f"@{d.get('dlq.original.offset')} by {d.get('dlq.consumer.group')} after {d.get('dlq.attempts')} "
            f"attempt(s): {d.get('dlq.error.class')}: {d.get('dlq.error.message')}"
        )
    return "\n".join(lines)


async def tail(
    infra: InfraSettings, topic: str, *, from_beginning: bool = False, limit: int | None = None, as_json: bool = False
) -> int:
    try:
        topic_named(topic)
    except KeyError as exc:
        print(f"hubstream: {exc.args[0]}", file=sys.stderr)
        return 2
    name = infra.topic_prefix + topic
    consumer = make_consumer(infra.kafka)
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        raise BrokerUnavailable(f"Kafka at {infra.kafka} is not reachable ({exc}); is the stack up?") from exc
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        partitions = await topic_partitions(infra.kafka, name)
        if not partitions:
            print(f"hubstream: topic {name} does not exist on {infra.kafka}; run `hubstream migrate`", file=sys.stderr)
            return 1
        tps = [TopicPartition(name, p) for p in partitions]
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        print(f"hubstream: tailing {name} on {infra.kafka} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        shown = 0
        while not stopping.is_set() and (limit is None or shown < limit):
            batches = await consumer.getmany(timeout_ms=300)
            records = sorted((r for rs in batches.values() for r in rs), key=lambda r: (r.timestamp, r.partition))
            for record in records:
                described = describe(record)
                print(orjson.dumps(described).decode() if as_json else as_text(described), flush=True)
                shown += 1
                if limit is not None and shown >= limit:
                    break
        return 0
    finally:
        await consumer.stop()
