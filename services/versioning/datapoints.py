"""Datapoints: their accepted shape, canonical form and content hash.

A datapoint is `{inputs, messages, target}` (Humanloop's `CreateDatapointRequest`). Clients send no id,
so its identity is its content: the SHA-256 of its canonical JSON, where

- keys are sorted at every depth;
- a field that is missing, null, `{}` or `[]` is left out (all mean "none");
- NaN and Infinity are refused (JSON has no such numbers, and they would never compare equal), and
  so are the NUL character (PostgreSQL's jsonb cannot hold it) and integers past 64 bits (they
  would not come back exactly).

`inputs._dedupe_id` is an ordinary input, so two datapoints that differ only there hash apart.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

FIELDS = ("inputs", "messages", "target")
MAX_DATAPOINTS = 100_000  # per request; larger sets are sent in several `add` upserts or as events
INT_MIN, INT_MAX = -(2**63), 2**64 - 1  # the integers orjson writes and reads back exactly


class ChatMessage(BaseModel):
    """Humanloop's ChatMessage; fields beyond the role (tool calls, names) are kept as sent."""

    model_config = ConfigDict(extra="allow")

    role: Literal["user", "assistant", "system", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class DatapointIn(BaseModel):
    """One datapoint as clients send it. Unknown fields are ignored, as FastAPI does."""

    model_config = ConfigDict(extra="ignore")

    inputs: dict[str, str] | None = Field(default=None, description="Input variables; values are strings.")
    messages: list[ChatMessage] | None = None
    target: dict[str, Any] | None = Field(default=None, description="What evaluators compare against.")


_DATAPOINTS = TypeAdapter(list[DatapointIn])


@dataclass(frozen=True)
class Datapoint:
    """A datapoint in canonical form, with its content hash."""

    content: dict[str, Any]
    hash: bytes
    canonical: bytes  # the canonical JSON the hash is of (kept: storing it needs it again)

    @property
    def canonical_json(self) -> str:
        return self.canonical.decode()


class InvalidDatapoints(ValueError):
    """Datapoints that cannot be stored; `details` are FastAPI-style `{loc, msg, type}` items."""

    def __init__(self, details: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(str(p) for p in d['loc'])}: {d['msg']}" for d in details))
        self.details = details


def canonical_bytes(content: dict[str, Any]) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def _unstorable(value: Any, loc: list[str | int]) -> tuple[list[str | int], str, str] | None:
    """Where the first value we cannot store exactly is (NaN, Infinity, a NUL character, an integer past
    64 bits), and why."""
    if isinstance(value, float) and not math.isfinite(value):
        return loc, "NaN and Infinity are not JSON numbers", "finite_number"
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        # orjson (canonical form, reads) holds 64-bit integers only; a larger one would come back altered.
        return loc, f"integers must lie between {INT_MIN} and {INT_MAX} (64 bits)", "int_range"
    if isinstance(value, str) and "\x00" in value:
        return loc, "text may not contain NUL (\\u0000) characters", "string_nul"
    if isinstance(value, dict):
        for k, v in value.items():
            if "\x00" in k:
                return [*loc, k], "keys may not contain NUL (\\u0000) characters", "string_nul"
            if (found := _unstorable(v, [*loc, k])) is not None:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if (found := _unstorable(v, [*loc, i])) is not None:
                return found
    return None


def canonical(item: DatapointIn, loc: list[str | int]) -> Datapoint:
    content: dict[str, Any] = {}
    for field in FIELDS:
        value = getattr(item, field)
        if field == "messages" and value is not None:
            value = [m.model_dump(exclude_none=True) for m in value]
        if value:  # None, {} and [] all mean "none"
            content[field] = value
    if not content:
        raise InvalidDatapoints(
            [{"loc": loc, "msg": "a datapoint needs at least one of inputs, messages or target", "type": "value_error"}]
        )
    refused = None
    try:
        encoded: bytes | None = canonical_bytes(content)
    except orjson.JSONEncodeError as exc:  # an integer past 64 bits (_unstorable says where), or too deep
        encoded, refused = None, str(exc)
    # orjson writes NaN and Infinity as null and NUL as \u0000: only a datapoint whose JSON shows one of
    # those (or failed to encode) can be unstorable, so the walk over every value runs for those alone.
    suspect = encoded is None or b"null" in encoded or b"\\u0000" in encoded
    if suspect and (problem := _unstorable(content, loc)) is not None:
        where, msg, kind = problem
        raise InvalidDatapoints([{"loc": where, "msg": msg, "type": kind}])
    if encoded is None:
        raise InvalidDatapoints([{"loc": loc, "msg": f"not storable as JSON: {refused}", "type": "value_error"}])
    return Datapoint(content, hashlib.sha256(encoded).digest(), encoded)


def parse(raw: Any, loc: tuple[str | int, ...] = ("body", "datapoints")) -> list[Datapoint]:
    """Validate and canonicalise datapoints as received (JSON-like values); InvalidDatapoints if any is wrong."""
    if isinstance(raw, list) and len(raw) > MAX_DATAPOINTS:
        raise InvalidDatapoints(
            [{"loc": list(loc), "msg": f"at most {MAX_DATAPOINTS} datapoints per request", "type": "too_long"}]
        )
    try:
        items = _DATAPOINTS.validate_python(raw)
    except ValidationError as exc:
        raise InvalidDatapoints(
            [{"loc": [*loc, *err["loc"]], "msg": err["msg"], "type": err["type"]} for err in exc.errors()]
        ) from exc
    return canonicalise(items, loc)


def canonicalise(items: list[DatapointIn], loc: tuple[str | int, ...] = ("body", "datapoints")) -> list[Datapoint]:
    """Datapoints already validated by their model (a request body), in canonical form."""
    if len(items) > MAX_DATAPOINTS:
        raise InvalidDatapoints(
            [{"loc": list(loc), "msg": f"at most {MAX_DATAPOINTS} datapoints per request", "type": "too_long"}]
        )
    return [canonical(item, [*loc, i]) for i, item in enumerate(items)]


def unique(points: list[Datapoint]) -> tuple[list[Datapoint], int]:
    """The datapoints without repeats (first occurrence kept, in order), and how many repeats were dropped."""
    seen: set[bytes] = set()
    kept = []
    for p in points:
        if p.hash not in seen:
            seen.add(p.hash)
            kept.append(p)
    return kept, len(points) - len(kept)


def response(public_id: str, content: dict[str, Any]) -> dict[str, Any]:
    """A stored datapoint in Humanloop's DatapointResponse shape."""
    return {"id": public_id, **content}
