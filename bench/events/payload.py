"""What both paths send: the same CloudEvents envelopes, with the headers the relay puts on them.

hubstream's writers commit `progress_events` through the outbox. The raw baseline sends, for the same
events, exactly the records `OutboxRelay.publish` would send (topic, value, key, partition, headers),
captured from the relay's own code before the clock starts (`relay_records`), so a header the relay
adds later is in the baseline too.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contracts import CloudEvent, encode, wrap
from contracts.ingest import IndexProgress
from services.runtime.outbox import Outbox, OutboxRelay, PendingRow

SOURCE = "/hubstream/bench"
ROW_COUNT = 1_000_000  # payload values only; sized like a real progress event
SOURCES = 1000  # aggregates (keys) the events are spread over


def progress_events(source_id: uuid.UUID, size: int) -> list[IndexProgress]:
    """One writing transaction's events: progress of one source, as an indexing run reports it."""
    return [
        IndexProgress(source_id=source_id, row_count=ROW_COUNT, indexed_row_count=i * 1000, chunk_count=i)
        for i in range(size)
    ]


def envelope_size() -> int:
    """Bytes of one encoded envelope as the outbox stores and the relay sends it."""
    [event] = progress_events(uuid.uuid4(), 1)
    return len(encode(wrap(event, source=SOURCE)))


@dataclass(frozen=True)
class Record:
    """One Kafka record as the relay sends it."""

    topic: str
    value: bytes
    key: bytes
    partition: int
    headers: tuple[tuple[str, bytes], ...]


class _Recorder:
    """Stands where the relay's producer does and keeps what it is asked to send."""

    def __init__(self, partitions: int) -> None:
        self._partitions = partitions
        self.sent: list[Record] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self._partitions))

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
        **_: Any,
    ) -> Any:
        assert value is not None
        assert key is not None
        assert partition is not None
        self.sent.append(Record(topic, value, key, partition, tuple(headers or ())))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    # A transactional relay brackets its sends; that changes nothing about the records themselves.
    async def begin_transaction(self) -> None:
        pass

    async def commit_transaction(self) -> None:
        pass

    async def abort_transaction(self) -> None:
        pass

    def transaction(self) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"OutboxRelay.publish now uses producer.{name}: teach bench/events/payload.py's recorder about it, "
            "so the raw baseline keeps sending what the relay sends"
        )


async def relay_records(envelopes: list[CloudEvent], topic: str, partitions: int, schema: str) -> list[Record]:
    """The records `OutboxRelay.publish` sends for `envelopes` (outbox ids 1, 2, ...) to `topic`."""
    recorder = _Recorder(partitions)
    relay = OutboxRelay(None, "", Outbox(schema=schema, source=SOURCE))  # type: ignore[arg-type]
    # In place of the transactional producer `relay.producing()` would start: the records are what we want.
    relay._producer = recorder  # type: ignore[assignment]
    rows = [
        PendingRow(i, env.id, topic, env.partitionkey or "", encode(env)) for i, env in enumerate(envelopes, start=1)
    ]
    await relay.publish(rows)
    return recorder.sent


def envelopes_for(bursts: Sequence[int], rng: random.Random, sources: list[uuid.UUID]) -> list[CloudEvent]:
    """The envelopes of a plan's bursts, with each burst's source drawn as the hubstream writers draw it."""
    return [wrap(event, source=SOURCE) for size in bursts for event in progress_events(rng.choice(sources), size)]
