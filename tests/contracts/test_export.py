"""The JSON Schema / AsyncAPI export: committed, current, complete and self-contained."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel

from contracts import export, registry
from contracts.base import Event
from contracts.export import SCHEMA_DIR, asyncapi_document, payload_schemas, stale, write
from contracts.headers import OUTBOX_HEADERS
from contracts.registry import EVENT_CLASSES
from contracts.topics import INGEST_STATUS, TOPICS
from services.registry import SERVICE_NAMES
from services.runtime.dlq import dead_letter_headers
from services.runtime.outbox import CONTENT_TYPE, HEADER_OUTBOX_EVENT, HEADER_OUTBOX_ID, HEADER_OUTBOX_SOURCE


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


def test_committed_export_is_current() -> None:
    problems = stale(SCHEMA_DIR)
    assert problems == [], (
        "contracts/schema/ does not match the contract models; run `hubstream contracts export` "
        "and commit the result:\n  " + "\n  ".join(problems)
    )


def test_stale_sees_changed_missing_and_extra_files(tmp_path: Path) -> None:
    copy = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, copy)
    assert stale(copy) == []

    (copy / "asyncapi.json").write_text("{}\n")
    event_file = copy / "events" / f"{EVENT_CLASSES[0].event_type}.json"
    event_file.unlink()
    (copy / "events" / "hubstream.catalog.gone.v1.json").write_text("{}\n")

    assert sorted(stale(copy)) == sorted(
        [
            "asyncapi.json: differs from the contracts",
            f"events/{EVENT_CLASSES[0].event_type}.json: missing",
            "events/hubstream.catalog.gone.v1.json: no such event type or service any more",
        ]
    )

    write(copy)
    assert stale(copy) == []
    assert not (copy / "events" / "hubstream.catalog.gone.v1.json").exists()


def test_write_is_deterministic_and_complete(tmp_path: Path) -> None:
    first = write(tmp_path)
    contents = {path: path.read_bytes() for path in first}
    second = write(tmp_path)
    assert second == first
    assert {path: path.read_bytes() for path in second} == contents

    relative = sorted(str(path.relative_to(tmp_path)) for path in first)
    expected = [
        "asyncapi.json",
        "cloudevent.json",
        *(f"events/{cls.event_type}.json" for cls in EVENT_CLASSES),
        *(f"openapi/{service}.json" for service in SERVICE_NAMES),
    ]
    assert relative == sorted(expected)
    for path in first:
        text = path.read_text()
        assert text.endswith("}\n")
        assert json.loads(text) is not None


def test_standalone_event_schemas_keep_their_defs(tmp_path: Path) -> None:
    write(tmp_path)
    for event_type, schema in payload_schemas().items():
        written = json.loads((tmp_path / "events" / f"{event_type}.json").read_text())
        assert written["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert {k: v for k, v in written.items() if k not in ("$schema", "$comment")} == schema
        for ref in _refs(written):
            assert ref.startswith("#/$defs/"), ref
            _resolve(written, ref)


def test_every_topic_and_its_dead_letter_topic_has_a_channel(document: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {name for topic in TOPICS for name in (topic.name, topic.dlq)}
    for topic in TOPICS:
        for name in (topic.name, topic.dlq):
            binding = document["channels"][name]["bindings"]["kafka"]
            assert binding["partitions"] == topic.partitions
            assert binding["replicas"] == 1


def test_every_event_type_has_a_message_in_exactly_its_topics_channel(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    for cls in EVENT_CLASSES:
        assert cls.event_type in messages
        holders = [name for name, channel in document["channels"].items() if cls.event_type in channel["messages"]]
        assert holders == [cls.topic.name], cls.event_type

        message = messages[cls.event_type]
        assert message["contentType"] == "application/cloudevents+json"
        assert message["bindings"]["kafka"]["key"] == {"type": "string", "description": cls.topic.key}
        envelope, narrowed = message["payload"]["allOf"]
        assert envelope == {"$ref": "#/components/schemas/CloudEvent"}
        assert narrowed["properties"]["type"] == {"const": cls.event_type}
        assert narrowed["properties"]["data"] == {"$ref": f"#/components/schemas/{cls.__name__}"}


def test_message_headers_are_the_ones_the_runtime_sets(document: dict[str, Any]) -> None:
    # The relay builds its headers from OUTBOX_HEADERS (tests/runtime/test_outbox.py reads a published record's).
    outbox_headers = [header.name for header in OUTBOX_HEADERS]
    assert {HEADER_OUTBOX_SOURCE, HEADER_OUTBOX_EVENT, HEADER_OUTBOX_ID} <= set(outbox_headers)
    for cls in EVENT_CLASSES:
        headers = document["components"]["messages"][cls.event_type]["headers"]
        assert list(headers["properties"]) == outbox_headers
        assert CONTENT_TYPE in headers["properties"]["content-type"]["examples"]

    record = ConsumerRecord(
        topic=INGEST_STATUS.name,
        partition=1,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"v",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
        headers=[("content-type", CONTENT_TYPE.encode())],
    )
    added = dead_letter_headers(record, group="g", kind="handler", error=RuntimeError("boom"), attempts=3)
    dlq_names = [name for name, _ in added if name.startswith("dlq.")]
    documented = document["components"]["messages"][f"{INGEST_STATUS.name}.dead-letter"]["headers"]
    assert sorted(documented["properties"]) == sorted(dlq_names)
    assert sorted(documented["required"]) == sorted(dlq_names)


def test_operations(document: dict[str, Any]) -> None:
    operations = document["operations"]
    sends = {(op_id.split(".send.")[0], op["channel"]["$ref"]) for op_id, op in operations.items() if ".send." in op_id}
    for topic in TOPICS:
        for producer in topic.producers:
            assert (producer, f"#/channels/{topic.name}") in sends
    receives = {
        (op_id.split(".receive.")[0], op["channel"]["$ref"].removeprefix("#/channels/"))
        for op_id, op in operations.items()
        if op["action"] == "receive"
    }
    assert receives == {
        ("ingest", "hubstream.catalog.identity"),
        ("versioning", "hubstream.catalog.identity"),
        ("ingest", "hubstream.catalog.repos"),
        ("versioning", "hubstream.catalog.repos"),
        ("catalog-worker", "hubstream.catalog.repos"),
        ("ingest-worker", "hubstream.ingest.requests"),
        ("ingest-worker", "hubstream.ingest.status"),  # the embedder queues completed indexes
        ("versioning-worker", "hubstream.versioning.deltas"),
        ("catalog-worker", "hubstream.catalog.mirror"),
    }
    for op in operations.values():
        channel = op["channel"]["$ref"]
        for message in op["messages"]:
            assert message["$ref"].startswith(channel + "/messages/"), "operations name their channel's messages"


def test_every_ref_resolves_within_the_document(document: dict[str, Any]) -> None:
    refs = list(_refs(document))
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), f"{ref} points outside the document"
        _resolve(document, ref)


def test_components_hold_every_payload_with_its_defs(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert {cls.__name__ for cls in EVENT_CLASSES} | {"CloudEvent", "UpdatedRef", "Datapoint"} <= set(schemas)
    assert not any("$defs" in schema for schema in schemas.values())


def test_two_different_definitions_with_one_name_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Detail(BaseModel):
        a: int

    class First(Event):
        event_type: ClassVar = "hubstream.ingest.first.v1"
        topic: ClassVar = INGEST_STATUS
        detail: Detail

    first_detail = Detail

    class Detail(BaseModel):  # type: ignore[no-redef]  # same name, other shape: the collision under test
        b: str

    class Second(Event):
        event_type: ClassVar = "hubstream.ingest.second.v1"
        topic: ClassVar = INGEST_STATUS
        detail: Detail

    assert first_detail is not Detail
    monkeypatch.setattr(registry, "EVENT_CLASSES", (*EVENT_CLASSES, First, Second))
    with pytest.raises(ValueError, match="'Detail'"):
        export.asyncapi_document()


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref}: {key} is not inside an object"
        assert key in node, f"{ref} does not resolve: no {key!r}"
        node = node[key]
    return node
