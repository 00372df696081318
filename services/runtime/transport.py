"""What the consumer and the relay need from a broker, so tests can swap Kafka for memory.

Kafka (aiokafka) is the real transport; `memory_broker.MemoryBroker` is the
in-memory one that the behaviour suite in tests/runtime also runs on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiokafka.structs import ConsumerRecord, OffsetAndMetadata, TopicPartition

from services.runtime.kafka import make_consumer


class RecordSource(Protocol):
    """A consumer-group member's view of its topics (AIOKafkaConsumer has this shape)."""

    async def start(self) -> None: ...

    async def getmany(
        self, *, timeout_ms: int, max_records: int | None
    ) -> dict[TopicPartition, list[ConsumerRecord]]: ...

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None: ...

    def assignment(self) -> set[TopicPartition]: ...

    async def stop(self) -> None: ...


class RecordSink(Protocol):
    """Where records are published (AIOKafkaProducer has this shape)."""

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Any: ...

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Any: ...

    async def partitions_for(self, topic: str) -> set[int]: ...


SourceFactory = Callable[[str, list[str]], RecordSource]
"""Opens a group member: (group id, topics) -> source."""


def kafka_source(bootstrap: str, *, instance: str | None = None) -> SourceFactory:
    """Group members on `bootstrap`; static ones (Kafka's KIP-345) named after `instance` when it is given.

    A static member that crashes and comes back under its name takes its partitions back at once. A dynamic
    one is a stranger to the group: it waits, and the partitions with it, until the session of the member it
    replaces runs out (10 s).
    """

    def open_source(group: str, topics: list[str]) -> RecordSource:
        # Offsets are committed by hand, after each record's outcome is settled (auto-commit is off).
        return make_consumer(
            bootstrap,
            *topics,
            group_id=group,
            group_instance_id=static_member_id(instance, topics) if instance else None,
            auto_offset_reset="earliest",
            max_poll_interval_ms=300_000,
        )

    return open_source


def static_member_id(instance: str, topics: list[str]) -> str:
    """The member's id in its group: the process's name and what it reads.

    The broker gives a returning static member its old partitions without a rebalance, and aiokafka does not
    check them against what it subscribes to now: a worker restarted on code that reads one topic more would
    never be given that topic's partitions. Under another id it joins as a new member, and the group is
    rebalanced once the old one's session has run out. Only Kafka's own id characters, for every client's sake.
    """
    reads = hashlib.sha256("\n".join(sorted(topics)).encode()).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9._-]", "-", f"{instance}.{reads}")[:249]
