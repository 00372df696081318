"""CloudEvents 1.0 envelope, structured JSON mode.

The whole envelope is the Kafka message value, so any console consumer shows
type, id, time and data without decoding headers. The record key is the
aggregate id, also carried as the `partitionkey` extension.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.base import ContractError, Event

CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"


class CloudEvent(BaseModel):
    # Extensions (e.g. traceparent) are allowed and kept.
    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime | None = None
    subject: str | None = None
    datacontenttype: str = "application/json"
    partitionkey: str | None = None
    data: Any = None


def wrap(event: Event, *, source: str, event_id: str | None = None, time: datetime | None = None) -> CloudEvent:
    """Put a payload in its envelope."""
    return CloudEvent(
        specversion="1.0",
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event.event_type,
        time=time or datetime.now(UTC),
        subject=event.subject(),
        partitionkey=event.key(),
        data=event.model_dump(mode="json"),
    )


def encode(envelope: CloudEvent) -> bytes:
    return orjson.dumps(envelope.model_dump(mode="json", exclude_none=True))


def decode(raw: bytes | None) -> CloudEvent:
    """Parse a message value into an envelope, or raise `ContractError` saying why not."""
    if raw is None:
        raise ContractError("the message has no value (a tombstone); expected a CloudEvents JSON envelope")
    try:
        # pydantic's parser, not orjson's: orjson reads an integer past 64 bits as a float, so a payload from
        # another system would be changed without a word (2**70 -> 1.1805916207174113e+21); this one keeps it
        # whole, for the payload's contract to accept or refuse. NaN and Infinity are not JSON: refused.
        document = pydantic_core.from_json(raw, allow_inf_nan=False, cache_strings=False)
    except ValueError as exc:
        raise ContractError(f"the message value is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ContractError(f"the message value is JSON {type(document).__name__}, not a CloudEvents object")
    try:
        return CloudEvent.model_validate(document)
    except ValidationError as exc:
        raise ContractError(f"the message is not a CloudEvents 1.0 envelope: {exc}") from exc
