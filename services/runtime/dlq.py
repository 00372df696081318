"""Dead letters: where a message goes when it cannot be handled.

The original key, value and headers are kept as they were, so the message can
be replayed to its topic once fixed; these headers say what happened:

| header                    | value                                          |
|---------------------------|------------------------------------------------|
| `dlq.original.topic`      | the topic it was read from                     |
| `dlq.original.partition`  | its partition                                  |
| `dlq.original.offset`     | its offset                                     |
| `dlq.consumer.group`      | the consumer group that gave up                |
| `dlq.error.kind`          | `contract` (never retried) or `handler`        |
| `dlq.error.class`         | the exception class                            |
| `dlq.error.message`       | the error, in words                            |
| `dlq.attempts`            | how many times the handler was tried           |
| `dlq.failed.at`           | ISO-8601 UTC time of the last failure          |
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord

from contracts.topics import DLQ_SUFFIX
from services.runtime.transport import RecordSink

HEADER_PREFIX = "dlq."
MAX_ERROR_BYTES = 4000


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def dead_letter_headers(
    record: ConsumerRecord, *, group: str, kind: str, error: BaseException, attempts: int
) -> list[tuple[str, bytes]]:
    kept = [(k, v) for k, v in (record.headers or ()) if not k.startswith(HEADER_PREFIX)]
    message = str(error).encode()[:MAX_ERROR_BYTES]
    return [
        *kept,
        ("dlq.original.topic", record.topic.encode()),
        ("dlq.original.partition", str(record.partition).encode()),
        ("dlq.original.offset", str(record.offset).encode()),
        ("dlq.consumer.group", group.encode()),
        ("dlq.error.kind", kind.encode()),
        ("dlq.error.class", type(error).__name__.encode()),
        ("dlq.error.message", message),
        ("dlq.attempts", str(attempts).encode()),
        ("dlq.failed.at", datetime.now(UTC).isoformat().encode()),
    ]


async def send_to_dlq(
    producer: RecordSink,
    record: ConsumerRecord,
    *,
    group: str,
    kind: str,
    error: BaseException,
    attempts: int,
) -> None:
    """Publish `record` to its topic's dead-letter topic and wait until the broker has it."""
    await producer.send_and_wait(
        dlq_topic(record.topic),
        value=record.value,
        key=record.key,
        partition=record.partition,
        headers=dead_letter_headers(record, group=group, kind=kind, error=error, attempts=attempts),
    )
