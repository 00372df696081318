"""Every event type hubstream knows, by its CloudEvents `type`."""

from __future__ import annotations

from contracts.base import Event
from contracts.catalog import (
    RepoCreated,
    RepoDeleted,
    RepoMoved,
    RepoSettingsChanged,
    RepoUpdated,
    TokenCreated,
    TokenRevoked,
)
from contracts.ingest import IndexCompleted, IndexFailed, IndexProgress, IndexRequested, IndexStarted
from contracts.mirror import MirrorSyncCompleted, MirrorSyncFailed, MirrorSyncRequested
from contracts.versioning import DatapointsDeltaRejected, DatapointsDeltaRequested, DatasetVersionCreated

EVENT_CLASSES: tuple[type[Event], ...] = (
    RepoCreated,
    RepoUpdated,
    RepoDeleted,
    RepoMoved,
    RepoSettingsChanged,
    TokenCreated,
    TokenRevoked,
    MirrorSyncRequested,
    MirrorSyncCompleted,
    MirrorSyncFailed,
    IndexRequested,
    IndexStarted,
    IndexProgress,
    IndexCompleted,
    IndexFailed,
    DatapointsDeltaRequested,
    DatasetVersionCreated,
    DatapointsDeltaRejected,
)

EVENT_TYPES: dict[str, type[Event]] = {cls.event_type: cls for cls in EVENT_CLASSES}


def event_class(event_type: str) -> type[Event] | None:
    return EVENT_TYPES.get(event_type)
