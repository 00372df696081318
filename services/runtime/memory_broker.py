"""An in-memory stand-in for Kafka: partitioned topics, keyed partitioning, group offsets.

For tests that exercise handler logic without a broker, and for the runtime's
behaviour suite, which runs the same tests here and on real Kafka. One member
per group (no rebalancing), which is all a single test needs.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from aiokafka.structs import ConsumerRecord, OffsetAndMetadata, RecordMetadata, TopicPartition

from services.runtime.kafka import partition_for


class MemoryBroker:
    def __init__(self, partitions: int = 3) -> None:
        self._partitions = partitions
        self._logs: dict[TopicPartition, list[ConsumerRecord]] = defaultdict(list)
        self._committed: dict[tuple[str, TopicPartition], int] = {}
        self._arrived = asyncio.Event()

    def create_topic(self, topic: str, partitions: int | None = None) -> None:
        for p in range(partitions or self._partitions):
            self._logs.setdefault(TopicPartition(topic, p), [])

    def partitions(self, topic: str) -> list[int]:
        return sorted(tp.partition for tp in self._logs if tp.topic == topic)

    def records(self, topic: str) -> list[ConsumerRecord]:
        """Everything on `topic`, partition by partition."""
        return [r for tp in sorted(self._logs) if tp.topic == topic for r in self._logs[tp]]

    def append(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        partition: int | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> RecordMetadata:
        if not self.partitions(topic):
            raise KeyError(f"topic {topic} does not exist")
        if partition is None:
            partition = partition_for(key.decode(), len(self.partitions(topic))) if key else 0
        tp = TopicPartition(topic, partition)
        log = self._logs[tp]
        timestamp = int(time.time() * 1000)
        log.append(
            ConsumerRecord(
                topic=topic,
                partition=partition,
                offset=len(log),
                timestamp=timestamp,
                timestamp_type=0,
                key=key,
                value=value,
                checksum=None,
                serialized_key_size=len(key or b""),
                serialized_value_size=len(value or b""),
                headers=tuple(headers),
            )
        )
        self._arrived.set()
        return RecordMetadata(topic, partition, tp, len(log) - 1, timestamp, 0, None)

    def producer(self) -> MemoryProducer:
        return MemoryProducer(self)

    def source(self, group: str, topics: list[str]) -> MemorySource:
        return MemorySource(self, group, topics)

    def committed(self, group: str, tp: TopicPartition) -> int:
        return self._committed.get((group, tp), 0)

    def commit(self, group: str, tp: TopicPartition, offset: int) -> None:
        self._committed[(group, tp)] = offset

    async def wait_for_records(self, timeout: float) -> None:
        self._arrived.clear()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), timeout)


class MemoryProducer:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[RecordMetadata]:
        done: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        done.set_result(self._broker.append(topic, value, key, partition, headers or ()))
        return done

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Any:
        return await (await self.send(topic, value, key, partition, headers))

    async def partitions_for(self, topic: str) -> set[int]:
        return set(self._broker.partitions(topic))


class MemorySource:
    def __init__(self, broker: MemoryBroker, group: str, topics: list[str]) -> None:
        self._broker = broker
        self._group = group
        self._topics = topics
        self._positions: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        for topic in self._topics:
            for p in self._broker.partitions(topic):
                tp = TopicPartition(topic, p)
                self._positions[tp] = self._broker.committed(self._group, tp)

    async def getmany(
        self, *, timeout_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        batches = self._take(max_records)
        if not batches:
            await self._broker.wait_for_records(timeout_ms / 1000)
            batches = self._take(max_records)
        return batches

    def _take(self, max_records: int | None) -> dict[TopicPartition, list[ConsumerRecord]]:
        batches: dict[TopicPartition, list[ConsumerRecord]] = {}
        budget = max_records or 500
        for tp, position in self._positions.items():
            records = self._broker._logs[tp][position : position + budget]
            if records:
                batches[tp] = records
                self._positions[tp] = position + len(records)
                budget -= len(records)
            if budget <= 0:
                break
        return batches

    def assignment(self) -> set[TopicPartition]:
        return set(self._positions)

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        for tp, meta in offsets.items():
            self._broker.commit(self._group, tp, meta.offset)

    async def stop(self) -> None:
        # Like a consumer leaving its group: records read but not committed are read again by the next member.
        self._positions.clear()
