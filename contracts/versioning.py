"""Events of the versioning service: datapoint deltas and the versions they create.

A delta has the shape of Humanloop's upsert (`action` + `datapoints` on a base
version), so the REST upsert and an event from another system are one thing.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Event
from contracts.topics import VERSIONING_DELTAS, VERSIONING_VERSIONS


class Datapoint(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    inputs: dict[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None
    target: dict[str, Any] | None = None


class _DatasetEvent(Event):
    dataset_path: str = Field(min_length=1, description='Humanloop-style path, e.g. "folder/test-questions"')

    def key(self) -> str:
        return self.dataset_path


class DatapointsDeltaRequested(_DatasetEvent):
    event_type: ClassVar = "hubstream.versioning.delta.requested.v1"
    topic: ClassVar = VERSIONING_DELTAS

    action: Literal["set", "add", "remove"]
    datapoints: list[Datapoint]
    base_version_id: str | None = Field(default=None, description="Version to apply on; latest if null.")
    commit_message: str | None = None
    request_id: str = Field(min_length=1, description="Idempotency key chosen by the requester.")


class DatasetVersionCreated(_DatasetEvent):
    event_type: ClassVar = "hubstream.versioning.version.created.v1"
    topic: ClassVar = VERSIONING_VERSIONS

    dataset_id: str
    version_id: str
    base_version_id: str | None
    datapoint_count: int = Field(ge=0)
    added: int = Field(ge=0)
    removed: int = Field(ge=0)
    commit_message: str | None
    request_id: str | None
