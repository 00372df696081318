"""aiokafka against the broker deploy/kafka/pom.xml pins (Kafka 4.1, KRaft).

aiokafka's own CI stops at broker 2.8, and Kafka 4.0 removed old protocol
versions (KIP-896), so these are the calls hubstream relies on, checked here.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from contracts.topics import CATALOG_IDENTITY, CATALOG_REPOS, INGEST_REQUESTS, TOPICS
from deploy import broker
from services.runtime.kafka import admin_context, ensure_topics, partition_for, producer_context, topic_partitions
from tests.conftest import free_port, wait_until


def test_the_pom_pins_the_broker_line_we_verified() -> None:
    pom = broker.POM.read_text()
    assert "<kafka.version>4.1." in pom
    libs = broker.libs_dir()
    if broker.has_jars(libs):  # under HUBSTREAM_KAFKA the jars may not be here
        assert any(Path(p).name.startswith("kafka_2.13-4.1.") for p in libs.glob("kafka_2.13-*.jar"))


async def test_admin_idempotent_produce_group_commit_and_resume(kafka_bootstrap: str) -> None:
    topic = f"compat.{uuid.uuid4().hex[:8]}"
    async with admin_context(kafka_bootstrap) as admin:
        await admin.create_topics([NewTopic(topic, 3, 1)])

    async def described() -> list[int]:  # the broker's metadata may trail the controller by a moment
        return await topic_partitions(kafka_bootstrap, topic)

    assert await wait_until(described) == [0, 1, 2]

    async with producer_context(kafka_bootstrap) as producer:  # idempotent, acks=all
        for i in range(6):
            key = f"k{i % 2}"
            meta = await producer.send_and_wait(topic, f"v{i}".encode(), key=key.encode())
            # Our partitioner agrees with the client's default (murmur2), which the outbox relies on.
            assert meta.partition == partition_for(key, 3)

    group = f"g-{uuid.uuid4().hex[:6]}"

    async def consume(n: int) -> list[bytes]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        got: list[bytes] = []
        try:
            while len(got) < n:
                for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                    got += [r.value for r in records]
                    await consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "")})
        finally:
            await consumer.stop()
        return got

    assert sorted(await consume(6)) == [f"v{i}".encode() for i in range(6)]

    async with producer_context(kafka_bootstrap) as producer:
        await producer.send_and_wait(topic, b"v6", key=b"k0")
    assert await consume(1) == [b"v6"]  # the group resumes after what it committed

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition_for("k0", 3))
        assert await consumer.committed(tp) == (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()


async def test_topics_are_created_with_the_configuration_the_contracts_declare(kafka_bootstrap: str) -> None:
    prefix = f"cfg{uuid.uuid4().hex[:6]}."
    created = await ensure_topics(kafka_bootstrap, prefix=prefix)
    assert len(created) == 2 * len(TOPICS)
    assert await ensure_topics(kafka_bootstrap, prefix=prefix) == []  # idempotent
    async with admin_context(kafka_bootstrap) as admin:
        names = [prefix + CATALOG_IDENTITY.name, prefix + CATALOG_REPOS.name, prefix + INGEST_REQUESTS.dlq]
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            _, _, _, name, entries = resource[:5]
            configs[name] = {entry[0]: entry[1] for entry in entries}
    assert configs[names[0]]["cleanup.policy"] == "compact"
    assert configs[names[1]]["retention.ms"] == "-1"
    assert configs[names[2]]["retention.ms"] == "-1"


def test_storage_format_takes_a_cluster_id_that_starts_with_a_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One id in 64 starts with "-"; the format step once read it as an option and failed.
    real = broker.new_cluster_id
    monkeypatch.setattr(broker, "new_cluster_id", lambda: "-" + real()[1:])
    local = broker.LocalKafka(home=tmp_path, port=free_port(), controller_port=free_port())
    assert local.format() is True
    assert "cluster.id=-" in (tmp_path / "data" / "meta.properties").read_text()
    assert local.format() is False  # already formatted: left alone


async def test_existing_topics_get_the_configuration_the_contracts_declare(kafka_bootstrap: str) -> None:
    prefix = f"old{uuid.uuid4().hex[:6]}."
    name = prefix + CATALOG_IDENTITY.name
    async with admin_context(kafka_bootstrap) as admin:  # made before the contract asked for compaction
        await admin.create_topics([NewTopic(name, 3, 1)])

    async def cleanup_policy() -> str | None:
        async with admin_context(kafka_bootstrap) as admin:
            [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        entries = {entry[0]: entry[1] for entry in response.resources[0][4]}
        return entries.get("cleanup.policy")

    assert await wait_until(cleanup_policy) == "delete"
    await ensure_topics(kafka_bootstrap, prefix=prefix)

    async def compacted() -> bool:
        return await cleanup_policy() == "compact"

    await wait_until(compacted)
