"""Events of the versioning service: datapoint deltas, and what became of them.

A delta has the shape of Humanloop's upsert (`action` + `datapoints` on a base
version), so the REST upsert and an event from another system are one thing.
Every delta that arrives as an event gets exactly one answer on the versions
topic, correlated by `request_id`: DatasetVersionCreated (`noop` when its
contents equal a version that exists, which it names) or DatapointsDeltaRejected.
A REST upsert that creates a version announces it the same way.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.base import Event
from contracts.topics import VERSIONING_DELTAS, VERSIONING_VERSIONS


class Datapoint(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    inputs: dict[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None
    target: dict[str, Any] | None = None


class DatapointsDeltaRequested(Event):
    event_type: ClassVar = "hubstream.versioning.delta.requested.v1"
    topic: ClassVar = VERSIONING_DELTAS

    dataset_path: str | None = Field(
        default=None, min_length=1, description='Humanloop-style path, e.g. "folder/test-questions"; created if new.'
    )
    dataset_id: str | None = Field(default=None, min_length=1, description="An existing dataset's ds_ id.")
    action: Literal["set", "add", "remove"]
    datapoints: list[Datapoint]
    base_version_id: str | None = Field(
        default=None, description="Version to apply on; else `environment`'s version; else the latest."
    )
    environment: str | None = Field(default=None, description="Apply on the version deployed here (name or env_ id).")
    commit_message: str | None = None
    version_name: str | None = Field(default=None, description="Name of the new version; unique in the dataset.")
    version_description: str | None = None
    request_id: str = Field(min_length=1, description="Idempotency key chosen by the requester.")

    @model_validator(mode="after")
    def _names_a_dataset(self) -> Self:
        if self.dataset_path is None and self.dataset_id is None:
            raise ValueError("a delta names its dataset: dataset_path or dataset_id")
        return self

    def key(self) -> str:
        return self.dataset_id or self.dataset_path or ""


class DatasetVersionCreated(Event):
    event_type: ClassVar = "hubstream.versioning.version.created.v1"
    topic: ClassVar = VERSIONING_VERSIONS

    dataset_path: str = Field(min_length=1)
    dataset_id: str
    version_id: str
    base_version_id: str | None
    datapoint_count: int = Field(ge=0)
    added: int = Field(ge=0, description="Datapoints added against the base.")
    removed: int = Field(ge=0, description="Datapoints removed against the base.")
    duplicates_ignored: int = Field(
        default=0, ge=0, description="Datapoints of the delta that were repeated or (add) already in the base."
    )
    commit_message: str | None
    version_name: str | None = None
    request_id: str | None
    noop: bool = Field(
        default=False, description="The contents equal an existing version, named by version_id; nothing was created."
    )

    def key(self) -> str:
        return self.dataset_id


class DatapointsDeltaRejected(Event):
    event_type: ClassVar = "hubstream.versioning.delta.rejected.v1"
    topic: ClassVar = VERSIONING_VERSIONS

    dataset_path: str | None = None
    dataset_id: str | None = None
    request_id: str
    reason_code: str = Field(description="Stable code, e.g. VersionNotFound, InvalidDatapoints, InvalidPath.")
    reason: str = Field(description="What was wrong, in words.")

    def key(self) -> str:
        return self.dataset_id or self.dataset_path or ""
