"""The AsyncAPI 3.0 document of hubstream's topics, generated from the contract models.

Every topic and its dead-letter twin, who sends and who receives what on it
(`RECEIVERS` lists the consumer groups; tests/contracts/test_receivers.py keeps
it true), and every message with its envelope, key and headers. The payload
schemas are pydantic's, hoisted into `components.schemas`. `contracts.export`
writes it to disk with the standalone schemas.
"""

from __future__ import annotations

from typing import Any

from contracts import registry, topics
from contracts.base import Event
from contracts.components import hoist as _hoist
from contracts.components import put as _put
from contracts.envelope import CONTENT_TYPE, CloudEvent
from contracts.receivers import RECEIVERS, Receiver
from contracts.topics import Topic

MESSAGE_CONTENT_TYPE = "application/cloudevents+json"
# The Kafka bindings release that goes with AsyncAPI 3.0.0 (0.5.0 is the first one written for 3.0).
KAFKA_BINDING_VERSION = "0.5.0"
ANY_PRODUCER = "any"
"""In `Topic.producers`: systems outside hubstream may publish too."""

GENERATED_NOTE = "Generated from contracts/ by `hubstream contracts export`; do not edit by hand."

ENVELOPE_DESCRIPTION = (
    "CloudEvents 1.0 envelope, structured JSON mode: the whole envelope is the Kafka message value. "
    "`type` names the payload's contract, `data` is the payload, `partitionkey` repeats the record key "
    "(the aggregate id). Extension attributes (e.g. `traceparent`) are allowed and kept."
)

INFO_DESCRIPTION = f"""\
Every hubstream event is a [CloudEvents 1.0](https://github.com/cloudevents/spec) envelope in \
**structured JSON mode**: the whole envelope (`specversion`, `id`, `source`, `type`, `time`, `subject`, \
`partitionkey`, `data`) is the Kafka message value, so any console consumer shows it without decoding headers.

- content-type header: `{CONTENT_TYPE}`;
- record key: the id of the aggregate the event is about (a repo, a source, a dataset), also carried as the \
`partitionkey` extension, so all events about one aggregate stay in order on one partition;
- `type` is `hubstream.<domain>.<...>.v<N>`; an incompatible change gets a new type (`.v2`), while optional \
fields may be added to an existing one, so consumers ignore fields they do not know;
- a message a consumer cannot handle goes, unchanged, to the topic's dead-letter twin (`<topic>.dlq`) with \
`dlq.*` headers saying why;
- a deployment may put a prefix before every topic name (`HUBSTREAM_TOPIC_PREFIX`); addresses here are \
without it.

{GENERATED_NOTE}"""


DLQ_HEADERS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("dlq.original.topic", "The topic the message was read from.", {}),
    ("dlq.original.partition", "Its partition (decimal).", {"pattern": "^[0-9]+$"}),
    ("dlq.original.offset", "Its offset (decimal).", {"pattern": "^[0-9]+$"}),
    ("dlq.consumer.group", "The consumer group that gave up.", {}),
    (
        "dlq.error.kind",
        "`contract` (the message does not fit its contract; never retried) or `handler` (the handler failed).",
        {"enum": ["contract", "handler"]},
    ),
    ("dlq.error.class", "The exception class.", {}),
    ("dlq.error.message", "The error, in words (at most 4000 bytes).", {}),
    (
        "dlq.attempts",
        "How many times the handler was tried (decimal; 0 for a contract failure).",
        {"pattern": "^[0-9]+$"},
    ),
    ("dlq.failed.at", "ISO-8601 UTC time of the last failure.", {"format": "date-time"}),
)


def payload_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every event payload, by CloudEvents `type`."""
    schemas: dict[str, dict[str, Any]] = {}
    for cls in registry.EVENT_CLASSES:
        _put(schemas, cls.event_type, cls.model_json_schema(), what="event type")
    return schemas


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema of the CloudEvents envelope (any `type`, any `data`)."""
    return {**CloudEvent.model_json_schema(), "description": ENVELOPE_DESCRIPTION}


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document for every topic, dead-letter topic, operation and message."""
    schemas: dict[str, Any] = {}
    _hoist(schemas, CloudEvent.__name__, envelope_schema())
    for cls in registry.EVENT_CLASSES:
        _hoist(schemas, cls.__name__, cls.model_json_schema())

    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    placed: set[str] = set()
    for topic in topics.TOPICS:
        events = [cls for cls in registry.EVENT_CLASSES if cls.topic == topic]
        for cls in events:
            _put(messages, cls.event_type, _event_message(cls), what="message")
            placed.add(cls.event_type)
        _put(channels, topic.name, _channel(topic, [cls.event_type for cls in events]), what="channel")

        dead_letter = _dead_letter_message_id(topic)
        _put(messages, dead_letter, _dead_letter_message(topic), what="message")
        _put(channels, topic.dlq, _dead_letter_channel(topic, dead_letter), what="channel")

        for producer in topic.producers:
            operation_id = f"{producer}.send.{topic.name}"
            _put(operations, operation_id, _send_operation(producer, topic, events), what="operation")

    orphans = sorted(cls.event_type for cls in registry.EVENT_CLASSES if cls.event_type not in placed)
    if orphans:
        raise ValueError(f"events on a topic missing from contracts.topics.TOPICS: {', '.join(orphans)}")

    for receiver in RECEIVERS:
        stray = [cls.__name__ for cls in receiver.events if cls.topic != receiver.topic]
        if stray:
            raise ValueError(f"receiver {receiver.group}: {', '.join(stray)} are not on {receiver.topic.name}")
        _put(
            operations,
            f"{receiver.service}.receive.{receiver.topic.name}",
            _receive_operation(receiver),
            what="operation",
        )
        # A consumer that gives up on a message is what writes it to the dead-letter topic.
        _put(
            operations,
            f"{receiver.service}.send.{receiver.topic.dlq}",
            _dead_letter_operation(receiver),
            what="operation",
        )

    return {
        "asyncapi": "3.0.0",
        "info": {"title": "hubstream events", "version": "1.0.0", "description": INFO_DESCRIPTION},
        "defaultContentType": MESSAGE_CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


# --- AsyncAPI pieces ----------------------------------------------------------------------------------------


def _pointer(*parts: str) -> str:
    """A local JSON Pointer reference (RFC 6901 escaping, in case a name ever holds `~` or `/`)."""
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _ref(*parts: str) -> dict[str, str]:
    return {"$ref": _pointer(*parts)}


def _kafka_channel_binding(topic: Topic, name: str) -> dict[str, Any]:
    # Dead-letter topics get as many partitions as their topic: a dead letter keeps its original partition.
    return {
        "kafka": {
            "topic": name,
            "partitions": topic.partitions,
            "replicas": 1,
            **({"topicConfiguration": _topic_configuration(topic)} if topic.config and name == topic.name else {}),
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def _topic_configuration(topic: Topic) -> dict[str, Any]:
    # The binding's typed fields: retention.ms is an integer, cleanup.policy a list.
    typed: dict[str, Any] = {}
    for key, value in topic.config:
        typed[key] = [value] if key == "cleanup.policy" else int(value)
    return typed


def _kafka_message_binding(topic: Topic) -> dict[str, Any]:
    return {
        "kafka": {
            "key": {"type": "string", "description": topic.key},
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def _producers_in_words(topic: Topic) -> str:
    ours = [p for p in topic.producers if p != ANY_PRODUCER]
    words = ", ".join(ours) if ours else "nobody in hubstream"
    if ANY_PRODUCER in topic.producers:
        words += ", and systems outside hubstream"
    return words


def _channel(topic: Topic, event_types: list[str]) -> dict[str, Any]:
    return {
        "address": topic.name,
        "title": topic.name,
        "description": (
            f"{topic.description}\n\nRecord key: {topic.key}. Published by {_producers_in_words(topic)}. "
            f"Messages that cannot be handled go to `{topic.dlq}`."
        ),
        "messages": {event_type: _ref("components", "messages", event_type) for event_type in event_types},
        "bindings": _kafka_channel_binding(topic, topic.name),
    }


def _dead_letter_channel(topic: Topic, message_id: str) -> dict[str, Any]:
    return {
        "address": topic.dlq,
        "title": topic.dlq,
        "description": (
            f"Dead letters of `{topic.name}`: messages a consumer of it could not handle. Key, value and headers "
            "are the original ones, on the same partition number, plus `dlq.*` headers saying what went wrong, "
            f"so a message can be replayed to `{topic.name}` once the cause is fixed."
        ),
        "messages": {message_id: _ref("components", "messages", message_id)},
        "bindings": _kafka_channel_binding(topic, topic.dlq),
    }


def _title(event_type: str) -> str:
    """`hubstream.catalog.repo.created.v1` -> `Repo created (v1)`."""
    _hubstream, _domain, *words, version = event_type.split(".")
    return f"{' '.join(words).capitalize()} ({version})"


def _outbox_headers(topic: Topic) -> dict[str, Any]:
    headers: dict[str, Any] = {
        "type": "object",
        "properties": {
            "content-type": {
                "type": "string",
                "description": "The value's media type: a CloudEvents envelope, structured JSON mode.",
                "examples": [CONTENT_TYPE],
            },
            "outbox.source": {
                "type": "string",
                "description": (
                    "The service (its database schema) whose transactional outbox published the message. "
                    "Set by hubstream's outbox relay."
                ),
            },
            "outbox.id": {
                "type": "string",
                "pattern": "^[0-9]+$",
                "description": (
                    "The message's row id in that outbox (decimal). With `outbox.source`, it lets a relay that "
                    "takes over recognise what was already published, so nothing is published twice."
                ),
            },
        },
    }
    # Outside systems publish without our outbox; only topics written by hubstream alone can promise the headers.
    if ANY_PRODUCER not in topic.producers:
        headers["required"] = ["content-type", "outbox.source", "outbox.id"]
    return headers


def _event_message(cls: type[Event]) -> dict[str, Any]:
    topic = cls.topic
    message: dict[str, Any] = {
        "name": cls.__name__,
        "title": _title(cls.event_type),
        "contentType": MESSAGE_CONTENT_TYPE,
        "description": (
            f"CloudEvents type `{cls.event_type}` on `{topic.name}`; `data` is a `{cls.__name__}`. "
            f"Record key and `partitionkey`: {topic.key}."
        ),
        "headers": _outbox_headers(topic),
        # The envelope, narrowed: this `type`, and `data` of this message's payload schema.
        "payload": {
            "allOf": [
                _ref("components", "schemas", CloudEvent.__name__),
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": cls.event_type},
                        "data": _ref("components", "schemas", cls.__name__),
                        "partitionkey": {"type": "string", "description": topic.key},
                    },
                    "required": ["type", "data"],
                },
            ]
        },
        "bindings": _kafka_message_binding(topic),
    }
    doc = (cls.__doc__ or "").strip()
    if doc:
        message["summary"] = doc.splitlines()[0]
    return message


def _dead_letter_message_id(topic: Topic) -> str:
    return f"{topic.name}.dead-letter"


def _dead_letter_message(topic: Topic) -> dict[str, Any]:
    properties: dict[str, Any] = {
        name: {"type": "string", "description": meaning, **shape} for name, meaning, shape in DLQ_HEADERS
    }
    return {
        "name": "DeadLetter",
        "title": f"Dead letter of {topic.name}",
        "description": (
            f"A message of `{topic.name}`, unchanged: same key, value and headers. A `contract` failure means "
            "the value may not be a CloudEvents envelope at all (not JSON, or not a known payload)."
        ),
        "headers": {
            "type": "object",
            "description": "The original headers (`content-type`, `outbox.*`, ...) and these `dlq.*` headers.",
            "properties": properties,
            "required": [name for name, _, _ in DLQ_HEADERS],
        },
        "payload": {
            "description": (
                f"The original message value, byte for byte: normally one of the messages of `{topic.name}`."
            ),
        },
        "bindings": _kafka_message_binding(topic),
    }


def _channel_messages(channel: str, message_ids: list[str]) -> list[dict[str, str]]:
    # Operations must point at the channel's messages, not at components (AsyncAPI 3.0, Operation Object).
    return [_ref("channels", channel, "messages", message_id) for message_id in message_ids]


def _send_operation(producer: str, topic: Topic, events: list[type[Event]]) -> dict[str, Any]:
    if producer == ANY_PRODUCER:
        summary = f"Systems outside hubstream may publish to {topic.name}."
    else:
        summary = f"The {producer} service publishes to {topic.name}, through its transactional outbox."
    return {
        "action": "send",
        "channel": _ref("channels", topic.name),
        "summary": summary,
        "messages": _channel_messages(topic.name, [cls.event_type for cls in events]),
    }


def _receive_operation(receiver: Receiver) -> dict[str, Any]:
    return {
        "action": "receive",
        "channel": _ref("channels", receiver.topic.name),
        "summary": f"{receiver.service} (consumer group {receiver.group}): {receiver.purpose}",
        "description": "Other event types on the topic are skipped by this group.",
        "messages": _channel_messages(receiver.topic.name, [cls.event_type for cls in receiver.events]),
        "bindings": {
            "kafka": {
                "groupId": {"type": "string", "enum": [receiver.group]},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _dead_letter_operation(receiver: Receiver) -> dict[str, Any]:
    topic = receiver.topic
    return {
        "action": "send",
        "channel": _ref("channels", topic.dlq),
        "summary": (
            f"{receiver.service} (consumer group {receiver.group}) dead-letters a message of {topic.name} it "
            "cannot handle: at once for a contract failure, after its retries for a handler failure."
        ),
        "messages": _channel_messages(topic.dlq, [_dead_letter_message_id(topic)]),
    }
