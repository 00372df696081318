"""The versioning worker: applies deltas that arrive as events, and answers each on the versions topic.

Each DatapointsDeltaRequested is applied at most once, twice over: the inbox (same event id
delivered again) and its `request_id` (the same request published again under a new event id).
The answer is DatasetVersionCreated (possibly `noop`) or DatapointsDeltaRejected with the reason;
a delta that breaks its contract never reaches here (the consumer dead-letters it).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import asyncpg

from contracts.versioning import DatapointsDeltaRejected, DatapointsDeltaRequested, DatasetVersionCreated
from services.runtime.consumer import EventConsumer, Received
from services.runtime.deps import Deps
from services.runtime.outbox import Outbox
from services.versioning import datapoints, store
from services.versioning.errors import VersioningError
from services.versioning.versions import Delta, apply_delta

log = logging.getLogger(__name__)

WORKER_GROUP = "versioning-deltas"


async def on_delta_requested(
    message: Received[DatapointsDeltaRequested], conn: asyncpg.Connection, *, outbox: Outbox
) -> None:
    request = message.data
    if not await store.claim_request(conn, request.request_id):
        log.info("delta %s for %s was handled before; skipping", request.request_id, request.key())
        return
    try:
        points = datapoints.parse(
            [p.model_dump(exclude_none=True) for p in request.datapoints], loc=("data", "datapoints")
        )
        delta = Delta(
            action=request.action,
            datapoints=points,
            dataset_id=request.dataset_id,
            path=request.dataset_path if request.dataset_id is None else None,
            base_version_id=request.base_version_id,
            environment=request.environment,
            commit_message=request.commit_message,
            version_name=request.version_name,
            version_description=request.version_description,
            actor=message.envelope.source,
            request_id=request.request_id,
        )
        async with conn.transaction():  # a savepoint: a refused delta leaves nothing behind
            outcome = await apply_delta(conn, outbox, delta)
    except (VersioningError, datapoints.InvalidDatapoints) as exc:
        code = exc.code if isinstance(exc, VersioningError) else "InvalidDatapoints"
        reason = exc.message if isinstance(exc, VersioningError) else f"invalid datapoints: {exc}"
        log.warning("delta %s for %s rejected (%s): %s", request.request_id, request.key(), code, reason)
        # Keyed like every other answer about this dataset (its id), so they stay in order on one partition.
        known = await store.dataset_id_at(conn, request.dataset_path) if request.dataset_id is None else None
        await outbox.add(
            conn,
            DatapointsDeltaRejected(
                dataset_path=request.dataset_path,
                dataset_id=request.dataset_id or known,
                request_id=request.request_id,
                reason_code=code,
                reason=reason,
            ),
        )
        await store.settle_request(conn, request.request_id, f"rejected: {code}", None)
        return
    version = outcome.version
    if not outcome.created:  # the contents were already a version: say which
        await outbox.add(
            conn,
            DatasetVersionCreated(
                dataset_path=outcome.dataset["path"],
                dataset_id=outcome.dataset["id"],
                version_id=version["id"],
                base_version_id=outcome.base_id,
                datapoint_count=version["datapoints_count"],
                added=0,
                removed=0,
                duplicates_ignored=outcome.report.duplicates_ignored,
                commit_message=version["commit_message"],
                version_name=version["version_name"],
                request_id=request.request_id,
                noop=True,
            ),
        )
    await store.settle_request(conn, request.request_id, "noop" if not outcome.created else "created", version["id"])


@asynccontextmanager
async def worker_consumers(deps: Deps) -> AsyncIterator[list[EventConsumer]]:
    consumer = deps.consumer(WORKER_GROUP)
    consumer.on(DatapointsDeltaRequested, partial(on_delta_requested, outbox=deps.outbox))
    yield [consumer]
