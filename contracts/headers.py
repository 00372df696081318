"""The Kafka headers hubstream's outbox relay puts on every message it publishes.

One list for both sides: the relay (services/runtime/outbox.py) builds each
record's headers from these names, and the AsyncAPI document describes them
from the same list, so the document cannot fall behind what is really sent
(tests/runtime/test_outbox.py reads a published record's headers back and
compares them with the document).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.envelope import CONTENT_TYPE


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    shape: dict[str, Any] = field(default_factory=dict)
    """JSON Schema keywords for the value, beside `type: string`."""


CONTENT_TYPE_HEADER = Header(
    "content-type",
    "The value's media type: a CloudEvents envelope, structured JSON mode.",
    {"examples": [CONTENT_TYPE]},
)
OUTBOX_SOURCE = Header(
    "outbox.source",
    "The service (its database schema) whose transactional outbox published the message. "
    "Set by hubstream's outbox relay.",
)
OUTBOX_ID = Header(
    "outbox.id",
    "The message's row id in that outbox (decimal), for people: ids start over with a new database.",
    {"pattern": "^[0-9]+$"},
)
OUTBOX_EVENT = Header(
    "outbox.event",
    "The CloudEvents `id` of the message, unique for good. With `outbox.source`, it lets a relay that takes "
    "over recognise what was already published, so nothing is published twice.",
)

OUTBOX_HEADERS: tuple[Header, ...] = (CONTENT_TYPE_HEADER, OUTBOX_SOURCE, OUTBOX_ID, OUTBOX_EVENT)
"""Every header of a message published by an outbox relay, in the order it sends them."""
