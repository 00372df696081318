"""Events of the catalog's mirrors of upstream Hubs: a sync asked for, and how it ended.

Keyed by the mirror's name, so one mirror's requests and outcomes stay in order.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Event
from contracts.topics import CATALOG_MIRROR


class _MirrorEvent(Event):
    topic: ClassVar = CATALOG_MIRROR

    mirror: str = Field(description="The mirror's name, as given to `hubstream mirror add`.")
    sync_id: str = Field(description="Names one sync from its request to its outcome.")

    def key(self) -> str:
        return self.mirror


class MirrorCollectionCounts(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    created: int = Field(ge=0, description="Collections copied for the first time.")
    updated: int = Field(ge=0, description="Collections whose lastUpdated or contents changed upstream, copied again.")
    deleted: int = Field(ge=0, description="Collections gone upstream (404, or absent from a complete listing).")
    unchanged: int = Field(ge=0, description="Collections the upstream shows as they were: not written again.")
    failed: int = Field(ge=0, description="Collections that could not be copied this time (they keep their old state).")


class MirrorSyncCounts(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    created: int = Field(ge=0, description="Repos copied for the first time.")
    updated: int = Field(ge=0, description="Repos whose sha or lastModified changed upstream, copied again.")
    deleted: int = Field(ge=0, description="Repos gone upstream, deleted here.")
    unchanged: int = Field(ge=0, description="Repos the upstream shows as they were: not copied again.")
    failed: int = Field(ge=0, description="Repos that could not be copied this time (they keep their old state).")
    collections: MirrorCollectionCounts | None = Field(
        default=None,
        description="The collections' counts, when the mirror follows collections (--collection or --author); "
        "null otherwise, and absent from events of versions that did not copy collections.",
    )


class MirrorSyncRequested(_MirrorEvent):
    """Someone (`hubstream mirror sync`, or the mirror's schedule) asks for a sync."""

    event_type: ClassVar = "hubstream.catalog.mirror.sync.requested.v1"

    upstream_url: str


class MirrorSyncCompleted(_MirrorEvent):
    event_type: ClassVar = "hubstream.catalog.mirror.sync.completed.v1"

    counts: MirrorSyncCounts


class MirrorSyncFailed(_MirrorEvent):
    """The sync ended with errors: repos it could not copy keep their old state; the next sync carries on."""

    event_type: ClassVar = "hubstream.catalog.mirror.sync.failed.v1"

    counts: MirrorSyncCounts
    error: str = Field(description="What went wrong, in words (the first errors, when there were several).")
