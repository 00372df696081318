"""Deltas as events: an outside system publishes with plain aiokafka and reads the answers."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from contracts import decode
from contracts.topics import VERSIONING_DELTAS, VERSIONING_VERSIONS
from tests.conftest import read_topic, wait_until
from tests.versioning.conftest import Versioning


async def produce(bootstrap: str, topic: str, values: list[bytes], *, key: bytes) -> None:
    """Publish with plain aiokafka, in order, as an outside system would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


POINTS = [{"inputs": {"q": str(i)}, "target": {"a": i}} for i in range(3)]


def envelope(data: dict[str, Any], *, event_id: str | None = None) -> bytes:
    """A CloudEvents envelope built by hand, as a system that does not use our code would."""
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id or str(uuid.uuid4()),
            "source": "/labelling-tool",
            "type": "hubstream.versioning.delta.requested.v1",
            "datacontenttype": "application/json",
            "data": data,
        }
    )


async def test_an_outside_producer_sends_deltas_and_reads_what_became_of_each(versioning: Versioning) -> None:
    infra = versioning.config.infra
    deltas, answers = infra.topic_prefix + VERSIONING_DELTAS.name, infra.topic_prefix + VERSIONING_VERSIONS.name
    first = envelope({"dataset_path": "evt/qa", "action": "set", "datapoints": POINTS, "request_id": "r1"})
    sent = [
        first,
        first,  # delivered twice: applied once (inbox)
        envelope({"dataset_path": "evt/qa", "action": "set", "datapoints": [], "request_id": "r1"}),  # key reused
        envelope(
            {
                "dataset_path": "evt/qa",
                "action": "add",
                "datapoints": POINTS,
                "base_version_id": "dsv_nope",
                "request_id": "r2",
            }
        ),
        envelope({"dataset_path": "evt/qa", "action": "add", "datapoints": [{"inputs": {"n": 1}}], "request_id": "r3"}),
        envelope({"dataset_path": "evt/qa", "action": "merge", "datapoints": [], "request_id": "r4"}),  # contract
        b'{"specversion": "1.0", "id": "x", "source": "/s", "type": "hubstream.versioning.delta.requested.v1", '
        b'"data": {"dataset_path": "evt/qa", "action": "add", "datapoints": [{"target": {"x": NaN}}]}}',  # not JSON
        envelope({"dataset_path": "evt/qa", "action": "add", "datapoints": POINTS[:1], "request_id": "r5"}),  # no-op
        envelope(
            {
                "dataset_path": "evt/qa",
                "action": "remove",
                "datapoints": POINTS[:1],
                "request_id": "r6",
                "commit_message": "drop q0",
            }
        ),
    ]
    await produce(infra.kafka, deltas, sent, key=b"evt/qa")

    records = await read_topic(infra.kafka, answers, expect=5, settle=2.0, timeout=60)
    events = [decode(r.value) for r in records]
    summary = [
        (e.data["request_id"], e.type.split(".")[-2], e.data.get("reason_code"), e.data.get("noop")) for e in events
    ]
    assert summary == [
        ("r1", "created", None, False),
        ("r2", "rejected", "VersionNotFound", None),
        ("r3", "rejected", "InvalidDatapoints", None),
        ("r5", "created", None, True),
        ("r6", "created", None, False),
    ]
    created = events[0].data
    assert (created["datapoint_count"], created["added"]) == (3, 3)
    assert events[3].data["version_id"] == created["version_id"]
    assert (events[4].data["datapoint_count"], events[4].data["removed"]) == (2, 1)
    assert {r.key for r in records if decode(r.value).type.endswith("created.v1")} == {created["dataset_id"].encode()}
    dead = await read_topic(infra.kafka, deltas + ".dlq", expect=2, settle=1.0)
    assert sorted(dict(r.headers)["dlq.error.kind"] for r in dead) == [b"contract", b"contract"]
    assert await versioning.pool.fetchval("SELECT count(*) FROM versions") == 2


async def test_concurrent_deltas_on_one_dataset_both_land(versioning: Versioning) -> None:
    status, v1, _ = await versioning.call("POST", "/datasets", json={"path": "race", "datapoints": []})
    assert status == 200

    async def add(i: int) -> int:
        body = {"id": v1["id"], "action": "add", "datapoints": [{"inputs": {"i": str(i)}}]}
        status, _, _ = await versioning.call("POST", "/datasets", json=body)
        return status

    assert await asyncio.gather(*(add(i) for i in range(12))) == [200] * 12
    _, latest, _ = await versioning.call("GET", f"/datasets/{v1['id']}")
    assert latest["datapoints_count"] == 12

    async def announced() -> bool:
        rows = await versioning.pool.fetchval("SELECT count(*) FROM outbox_published")
        return rows == 13

    await wait_until(announced, timeout=30)


async def test_bad_delta_events_leave_every_stored_version_unchanged(versioning: Versioning) -> None:
    """Every kind of bad delta event, sent after a good one was applied: each is answered or dead-lettered,
    and the versions stored before (contents, status, names) are exactly what is stored after."""
    infra = versioning.config.infra
    deltas, answers = infra.topic_prefix + VERSIONING_DELTAS.name, infra.topic_prefix + VERSIONING_VERSIONS.name
    good = envelope({"dataset_path": "evt/kept", "action": "set", "datapoints": POINTS, "request_id": "g1"})
    await produce(infra.kafka, deltas, [good], key=b"evt/kept")
    await read_topic(infra.kafka, answers, expect=1, settle=0.5, timeout=60)
    _, head, _ = await versioning.call("GET", "/datasets")
    dataset_id = head["records"][0]["id"]
    before = await versioning.snapshot()
    assert len(before) == 1
    bad = [
        good,  # the same event again: the inbox drops it
        envelope({"dataset_path": "evt/kept", "action": "add", "datapoints": [POINTS[0]], "request_id": "g1"}),
        envelope({"dataset_path": "evt/kept", "action": "merge", "datapoints": [], "request_id": "b1"}),
        b'{"specversion": "1.0", "id": "nan", "source": "/s", "type": "hubstream.versioning.delta.requested.v1", '
        b'"data": {"dataset_path": "evt/kept", "action": "add", "datapoints": [{"target": {"x": Infinity}}]}}',
        envelope({"dataset_id": dataset_id, "action": "add", "datapoints": [{"inputs": ["x"]}], "request_id": "b2"}),
        envelope({"dataset_id": dataset_id, "action": "add", "datapoints": [{}], "request_id": "b3"}),
        envelope({"dataset_path": "evt/../kept", "action": "add", "datapoints": POINTS, "request_id": "b4"}),
        envelope(
            {
                "dataset_id": dataset_id,
                "action": "set",
                "datapoints": [],
                "base_version_id": "dsv_nope",
                "request_id": "b5",
            }
        ),
        envelope({"dataset_id": "ds_nope", "action": "add", "datapoints": POINTS, "request_id": "b6"}),
        # What REST refuses, refused here too, with an answer (not retried, not dead-lettered):
        envelope(
            {
                "dataset_id": dataset_id,
                "action": "add",
                "datapoints": [],
                "commit_message": "a\x00b",
                "request_id": "b7",
            }
        ),
        envelope(
            {"dataset_id": dataset_id, "action": "add", "datapoints": [], "version_name": "v" * 256, "request_id": "b8"}
        ),
        # An integer past 64 bits (orjson will not write one: the bytes by hand), which must not become a float.
        b'{"specversion": "1.0", "id": "big", "source": "/s", "type": "hubstream.versioning.delta.requested.v1", '
        b'"data": {"dataset_path": "evt/kept", "action": "add", "request_id": "b9", '
        b'"datapoints": [{"target": {"n": 1180591620717411303424}}]}}',
        envelope({"dataset_id": dataset_id, "action": "add", "datapoints": [], "request_id": "b10\x00"}),
        envelope({"dataset_path": "evt/\x00kept", "action": "add", "datapoints": POINTS, "request_id": "b11"}),
    ]
    await produce(infra.kafka, deltas, bad, key=b"evt/kept")

    records = await read_topic(infra.kafka, answers, expect=10, settle=2.0, timeout=60)
    events = [decode(r.value) for r in records]
    # Answers are keyed by dataset (id, else path), so they may sit on different partitions: compare as a set.
    assert sorted((e.data["request_id"], e.data.get("reason_code")) for e in events) == [
        ("b10\x00", "InvalidInput"),
        ("b11", "InvalidInput"),
        ("b3", "InvalidDatapoints"),
        ("b4", "InvalidPath"),
        ("b5", "VersionNotFound"),
        ("b6", "DatasetNotFound"),
        ("b7", "InvalidInput"),
        ("b8", "ValidationError"),
        ("b9", "InvalidDatapoints"),
        ("g1", None),
    ]
    reasons = {e.data["request_id"]: e.data.get("reason") for e in events}
    assert "data.commit_message" in reasons["b7"]
    assert "data.version_name" in reasons["b8"]
    assert "64 bits" in reasons["b9"]
    dead = await read_topic(infra.kafka, deltas + ".dlq", expect=3, settle=1.0)
    assert len(dead) == 3  # the wrong action, the non-JSON Infinity, inputs of the wrong shape: contract failures
    assert await versioning.snapshot() == before
    assert await versioning.pool.fetchval("SELECT count(*) FROM datasets") == 1
