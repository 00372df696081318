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
from pydantic import ValidationError

from contracts.versioning import DatapointsDeltaRejected, DatapointsDeltaRequested, DatasetVersionCreated
from services.runtime.consumer import EventConsumer, Received
from services.runtime.deps import Deps
from services.runtime.outbox import Outbox
from services.versioning import datapoints, store
from services.versioning.errors import VersioningError
from services.versioning.models import NewVersionFields
from services.versioning.versions import Delta, apply_delta

log = logging.getLogger(__name__)

WORKER_GROUP = "versioning-deltas"


async def on_delta_requested(
    message: Received[DatapointsDeltaRequested], conn: asyncpg.Connection, *, outbox: Outbox
) -> None:
    request = message.data
    if (nul := _text_with_nul(request)) is not None:
        # Refused before anything is stored: PostgreSQL cannot hold the character, not even in the claim.
        await _reject(conn, outbox, request, "InvalidInput", f"{nul} may not contain NUL (\\u0000) characters")
        return
    if not await store.claim_request(conn, request.request_id):
        log.info("delta %s for %s was handled before; skipping", request.request_id, request.key())
        return
    try:
        # The limits of a REST upsert, from its own model: an event may not do what a request may not.
        fields = NewVersionFields.model_validate(
            {
                "commit_message": request.commit_message,
                "version_name": request.version_name,
                "version_description": request.version_description,
            }
        )
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
            commit_message=fields.commit_message,
            version_name=fields.version_name,
            version_description=fields.version_description,
            actor=message.envelope.source,
            request_id=request.request_id,
        )
        async with conn.transaction():  # a savepoint: a refused delta leaves nothing behind
            outcome = await apply_delta(conn, outbox, delta)
    except (VersioningError, datapoints.InvalidDatapoints, ValidationError, asyncpg.DataError) as exc:
        code, reason = _refusal(exc)
        await _reject(conn, outbox, request, code, reason)
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


def _text_with_nul(request: DatapointsDeltaRequested) -> str | None:
    """The first text field of the delta, other than datapoints (datapoints.parse says where), holding a NUL."""
    for name in (
        "request_id",
        "dataset_path",
        "dataset_id",
        "base_version_id",
        "environment",
        "commit_message",
        "version_name",
        "version_description",
    ):
        value = getattr(request, name)
        if isinstance(value, str) and "\x00" in value:
            return f"data.{name}"
    return None


def _refusal(exc: Exception) -> tuple[str, str]:
    """The reason code and words of a delta's refusal: the X-Error-Code and message REST would give."""
    if isinstance(exc, VersioningError):
        return exc.code, exc.message
    if isinstance(exc, datapoints.InvalidDatapoints):
        return "InvalidDatapoints", f"invalid datapoints: {exc}"
    if isinstance(exc, ValidationError):
        said = "; ".join(f"data.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return "ValidationError", said
    return "InvalidInput", f"a value in the delta cannot be stored: {exc}"  # asyncpg.DataError


async def _reject(
    conn: asyncpg.Connection, outbox: Outbox, request: DatapointsDeltaRequested, code: str, reason: str
) -> None:
    log.warning("delta %s for %s rejected (%s): %s", request.request_id, request.key(), code, reason)
    # Keyed like every other answer about this dataset (its id), so they stay in order on one partition. A name
    # with a NUL cannot be a key (nor looked up): the answer leaves it out, and the request id still correlates.
    path, dataset_id = (v if v is None or "\x00" not in v else None for v in (request.dataset_path, request.dataset_id))
    if dataset_id is None and path is not None:
        dataset_id = await store.dataset_id_at(conn, path)
    await outbox.add(
        conn,
        DatapointsDeltaRejected(
            dataset_path=path,
            dataset_id=dataset_id,
            request_id=request.request_id,
            reason_code=code,
            reason=reason,
        ),
    )


@asynccontextmanager
async def worker_consumers(deps: Deps) -> AsyncIterator[list[EventConsumer]]:
    consumer = deps.consumer(WORKER_GROUP)
    consumer.on(DatapointsDeltaRequested, partial(on_delta_requested, outbox=deps.outbox))
    yield [consumer]
