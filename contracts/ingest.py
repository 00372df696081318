"""Events of the ingest service: index requests and the runs they start."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import Event
from contracts.topics import INGEST_REQUESTS, INGEST_STATUS


class _SourceEvent(Event):
    source_id: uuid.UUID = Field(description="The data source being indexed; the record key.")

    def key(self) -> str:
        return str(self.source_id)


class IndexRequested(_SourceEvent):
    """Index (or re-index) a Hub dataset. Outside systems may publish it with an id of their choosing."""

    event_type: ClassVar = "hubstream.ingest.index.requested.v1"
    topic: ClassVar = INGEST_REQUESTS

    dataset: str = Field(pattern=r"^[^/\s]+(/[^/\s]+)?$", description='"owner/name" on the catalog')
    config: str | None = None
    requested_by: str | None = Field(default=None, description="User or system that asked.")


class IndexStarted(_SourceEvent):
    event_type: ClassVar = "hubstream.ingest.index.started.v1"
    topic: ClassVar = INGEST_STATUS

    dataset: str


class _RunCounts(_SourceEvent):
    """How far a run has come, in the figures Nia's source record shows."""

    topic: ClassVar = INGEST_STATUS

    row_count: int = Field(ge=0)
    indexed_row_count: int = Field(ge=0)
    chunk_count: int = Field(ge=0)


class IndexProgress(_RunCounts):
    event_type: ClassVar = "hubstream.ingest.index.progress.v1"


class IndexCompleted(_RunCounts):
    event_type: ClassVar = "hubstream.ingest.index.completed.v1"

    sampling_strategy: Literal["full", "sampled"]


class IndexFailed(_SourceEvent):
    event_type: ClassVar = "hubstream.ingest.index.failed.v1"
    topic: ClassVar = INGEST_STATUS

    dataset: str
    error: str = Field(description="What went wrong, in words an operator understands.")
    error_code: str = Field(description='Stable code, e.g. "DatasetNotFound".')
