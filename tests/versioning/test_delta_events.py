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
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka)
    await producer.start()
    try:
        for value in sent:
            await producer.send_and_wait(deltas, value, key=b"evt/qa")
    finally:
        await producer.stop()

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
        rows = await versioning.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
        return rows == 13

    await wait_until(announced, timeout=30)
