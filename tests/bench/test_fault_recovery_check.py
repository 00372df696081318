"""The fault bench counts a fault recovered only once the consumer groups have handled what was written."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from bench.faults.verify import groups_behind, handled_marks
from contracts.topics import INGEST_REQUESTS
from services.runtime.kafka import admin_context, producer_context

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("aborted", [2, 100], ids=["short-abort", "abort-past-the-first-window"])
async def test_a_group_is_behind_until_it_has_committed_every_committed_record(
    kafka_bootstrap: str, topic_prefix: str, aborted: int
) -> None:
    topic = topic_prefix + INGEST_REQUESTS.name
    tp = TopicPartition(topic, 0)
    # As a relay publishes: records in a transaction, which the broker closes with a marker. Then, as after a
    # relay's crash, a transaction that is aborted: its records and its marker are never handed to a consumer.
    async with producer_context(kafka_bootstrap, transactional_id=f"{topic_prefix}test") as producer:
        async with producer.transaction():
            for i in range(3):
                await producer.send(topic, f"v{i}".encode(), partition=0)
        await producer.begin_transaction()
        for i in range(aborted):
            await producer.send(topic, f"aborted{i}".encode(), partition=0)
        await producer.abort_transaction()
    marks = await handled_marks(kafka_bootstrap, [topic])
    assert marks == {tp: 3}  # partitions with no committed record need nothing handled

    group = f"g-{uuid.uuid4().hex[:8]}"
    member = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    async with admin_context(kafka_bootstrap) as admin:
        assert await groups_behind(admin, {group: topic}, marks) == [group]  # has committed nothing
        await member.start()
        try:
            member.assign([tp])
            await member.commit({tp: OffsetAndMetadata(2, "")})  # handled two of the three
            assert await groups_behind(admin, {group: topic}, marks) == [group]
            # All three: what the consumer commits after the last committed record, however far the partition's
            # end lies past it (the commit marker, then the aborted records and theirs).
            await member.commit({tp: OffsetAndMetadata(3, "")})
            assert await groups_behind(admin, {group: topic}, marks) == []
        finally:
            await member.stop()
