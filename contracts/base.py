"""The base of every event payload.

Producers are strict: unknown fields are refused and values are not coerced, so
a bug in a producer fails at the producer. Consumers are tolerant: `parse`
ignores fields it does not know, so producers can add optional fields without
breaking old consumers. An incompatible change gets a new event type (`.v2`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from contracts.topics import Topic


class ContractError(ValueError):
    """A message does not satisfy its contract (bad JSON, envelope or payload)."""


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    event_type: ClassVar[str]
    """The CloudEvents `type`, e.g. `hubstream.ingest.index.requested.v1`."""
    topic: ClassVar[Topic]

    def key(self) -> str:
        """The aggregate id this event is about: the Kafka record key."""
        raise NotImplementedError

    def subject(self) -> str | None:
        """The CloudEvents `subject`; the key unless a subclass says otherwise."""
        return self.key()

    @classmethod
    def parse(cls, data: Any) -> Self:
        """Read a payload as a consumer: lenient types, unknown fields ignored."""
        try:
            return cls.model_validate(data, strict=False, extra="ignore")
        except ValidationError as exc:
            raise ContractError(f"{cls.event_type}: payload does not match the contract: {exc}") from exc
