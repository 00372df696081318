"""Who consumes what: the consumer groups the services run, for the AsyncAPI document.

tests/contracts/test_receivers.py fails when this list and the services' real
subscriptions part ways.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.base import Event
from contracts.catalog import RepoCreated, RepoDeleted, RepoUpdated, TokenCreated, TokenRevoked
from contracts.ingest import IndexCompleted, IndexRequested
from contracts.mirror import MirrorSyncRequested
from contracts.topics import (
    CATALOG_IDENTITY,
    CATALOG_MIRROR,
    CATALOG_REPOS,
    INGEST_REQUESTS,
    INGEST_STATUS,
    VERSIONING_DELTAS,
    Topic,
)
from contracts.versioning import DatapointsDeltaRequested


@dataclass(frozen=True)
class Receiver:
    """One of our consumer groups: which events of a topic it handles, and why."""

    service: str
    group: str
    topic: Topic
    events: tuple[type[Event], ...]
    purpose: str


# This must follow the services: the `deps.consumer(group)` and `.on(Event, ...)` calls in
# services/runtime/auth.py (token copies), services/catalog/conversion_worker.py, services/ingest/app.py,
# services/versioning/app.py, services/ingest/worker.py and services/versioning/deltas.py.
# tests/contracts/test_receivers.py checks it against them.
RECEIVERS: tuple[Receiver, ...] = (
    Receiver(
        "ingest",
        "ingest-identity",
        CATALOG_IDENTITY,
        (TokenCreated, TokenRevoked),
        "Keeps ingest's copy of the access tokens, so it checks tokens without calling the catalog.",
    ),
    Receiver(
        "versioning",
        "versioning-identity",
        CATALOG_IDENTITY,
        (TokenCreated, TokenRevoked),
        "Keeps versioning's copy of the access tokens, so it checks tokens without calling the catalog.",
    ),
    Receiver(
        "ingest",
        "ingest-repos",
        CATALOG_REPOS,
        (RepoCreated, RepoUpdated, RepoDeleted),
        "Asks again for sources that failed because their dataset did not exist yet, "
        "re-indexes the completed sources of an updated dataset, and deletes the sources "
        "(and their chunks) of a deleted one.",
    ),
    Receiver(
        "versioning",
        "versioning-repos",
        CATALOG_REPOS,
        (RepoCreated, RepoDeleted),
        "Keeps versioning's list of the catalog's dataset repos.",
    ),
    Receiver(
        "catalog-worker",
        "catalog-mirror",
        CATALOG_MIRROR,
        (MirrorSyncRequested,),
        "Records each requested sync of a mirror, for the worker's sync runner to carry out.",
    ),
    Receiver(
        "catalog-worker",
        "catalog-parquet-converter",
        CATALOG_REPOS,
        (RepoCreated, RepoUpdated),
        "Converts a dataset's CSV, JSON Lines and JSON files to parquet shards on refs/convert/parquet "
        "whenever its main branch moves.",
    ),
    Receiver(
        "ingest-worker",
        "ingest-worker",
        INGEST_REQUESTS,
        (IndexRequested,),
        "Runs the index that a request asks for.",
    ),
    Receiver(
        "ingest-worker",
        "ingest-embedder",
        INGEST_STATUS,
        (IndexCompleted,),
        "Queues a completed index for embedding (hybrid search), when the worker has the `semantic` extra.",
    ),
    Receiver(
        "versioning-worker",
        "versioning-deltas",
        VERSIONING_DELTAS,
        (DatapointsDeltaRequested,),
        "Applies each delta once and answers on the versions topic: the version created, or why not.",
    ),
)

# A copy of the table in services/runtime/dlq.py (contracts must not import the services): name, meaning and
# the shape of the value. The original headers are kept as well.
