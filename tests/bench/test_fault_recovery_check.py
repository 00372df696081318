"""The fault bench counts a fault recovered only once the consumer groups have handled what was written."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from bench.faults.verify import committed_ends, groups_behind
from contracts.topics import INGEST_REQUESTS
from services.runtime.kafka import producer_context

pytestmark = pytest.mark.infra


async def test_a_group_is_behind_until_it_has_committed_every_committed_record(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = topic_prefix + INGEST_REQUESTS.name
    tp = TopicPartition(topic, 0)
    # As a relay publishes: records in a transaction, which the broker closes with a marker.
    async with (
        producer_context(kafka_bootstrap, transactional_id=f"{topic_prefix}test") as producer,
        producer.transaction(),
    ):
        for i in range(3):
            await producer.send(topic, f"v{i}".encode(), partition=0)
    marks = await committed_ends(kafka_bootstrap, [topic])
    assert marks[tp] == 4  # three records and the marker
    assert set(marks) == {TopicPartition(topic, p) for p in range(INGEST_REQUESTS.partitions)}

    group = f"g-{uuid.uuid4().hex[:8]}"
    assert await groups_behind(kafka_bootstrap, {group: topic}, marks) == [group]  # has committed nothing

    member = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await member.start()
    try:
        member.assign([tp])
        await member.commit({tp: OffsetAndMetadata(2, "")})  # handled two of the three
        assert await groups_behind(kafka_bootstrap, {group: topic}, marks) == [group]
        await member.commit({tp: OffsetAndMetadata(3, "")})  # all three: the marker is never handed over
        assert await groups_behind(kafka_bootstrap, {group: topic}, marks) == []
    finally:
        await member.stop()
