"""The ingest worker: takes IndexRequested and runs the index.

Today a run asks the catalog for the dataset and its parquet shards; until the
catalog serves parquet, a run ends `failed` with the catalog's answer as the
reason. Streaming shards into chunks comes with the ingest issue; the run's
bookkeeping (status, events, idempotence) is already the real one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import aiohttp
import asyncpg

from contracts.ingest import IndexFailed, IndexRequested, IndexStarted
from services.ingest import store
from services.ingest.catalog_client import CatalogClient, CatalogUnavailable
from services.ingest.errors import FailureCode
from services.runtime.consumer import INFRASTRUCTURE_ERRORS, EventConsumer, Received
from services.runtime.deps import Deps
from services.runtime.outbox import Outbox

log = logging.getLogger(__name__)

WORKER_GROUP = "ingest-worker"


@dataclass(frozen=True)
class IndexDeps:
    pool: asyncpg.Pool
    outbox: Outbox
    catalog: CatalogClient


class RunFailed(Exception):
    def __init__(self, code: FailureCode, message: str) -> None:
        super().__init__(message)
        self.code = code


async def handle_index_requested(message: Received[IndexRequested], deps: IndexDeps) -> None:
    request = message.data
    if not await _start(message, deps):
        return
    try:
        await _run(request, deps)
    except RunFailed as failure:
        await _fail(request, deps, failure.code, str(failure))
    except INFRASTRUCTURE_ERRORS:
        raise  # the database or network is down: the request comes again once it is back
    except Exception as exc:
        # A bug or an answer we did not expect: the source must not stay `processing` for good.
        log.exception("indexing %s (source %s) stopped on an internal error", request.dataset, request.source_id)
        await _fail(request, deps, "InternalError", f"indexing stopped on an internal error ({exc!r}); ask again")


async def _start(message: Received[IndexRequested], deps: IndexDeps) -> bool:
    """Mark the source processing and announce it; False if this request was already handled."""
    request = message.data
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await store.lock_source(conn, request.source_id)
        if row is None:
            # Published by another system with an id of its choosing: the source starts here.
            await store.insert_source(
                conn,
                source_id=request.source_id,
                dataset=request.dataset,
                config=request.config,
                is_global=False,
                requested_by=request.requested_by,
            )
        elif row["last_request_id"] == message.envelope.id:
            if row["status"] in ("completed", "failed"):
                log.info("index request %s for %s was already handled; skipping", message.envelope.id, request.dataset)
                return False
            return True  # the same request again (a retry or a redelivery): resume, announced already
        await store.mark_processing(conn, request.source_id, message.envelope.id)
        await deps.outbox.add(conn, IndexStarted(source_id=request.source_id, dataset=request.dataset))
    return True


async def _run(request: IndexRequested, deps: IndexDeps) -> None:
    try:
        status, info = await deps.catalog.dataset_info(request.dataset)
        if status == 404:
            raise RunFailed("DatasetNotFound", f"dataset {request.dataset} was not found on the catalog")
        if status >= 400:
            raise RunFailed("CatalogError", f"the catalog answered {status} for dataset {request.dataset}: {info}")
        status, shards = await deps.catalog.parquet_files(request.dataset)
    except CatalogUnavailable as exc:
        raise RunFailed("CatalogUnavailable", str(exc)) from exc
    if status == 404:
        raise RunFailed(
            "ParquetUnavailable",
            f"the catalog has dataset {request.dataset} but serves no parquet files for it",
        )
    if status >= 400:
        raise RunFailed("CatalogError", f"the catalog answered {status} for the parquet files of {request.dataset}")
    raise RunFailed("ParquetUnavailable", f"indexing parquet shards is not available yet ({len(shards)} listed)")


async def _fail(request: IndexRequested, deps: IndexDeps, code: FailureCode, reason: str) -> None:
    log.warning("indexing %s (source %s) failed: %s", request.dataset, request.source_id, reason)
    async with deps.pool.acquire() as conn, conn.transaction():
        await store.lock_source(conn, request.source_id)
        await store.mark_failed(conn, request.source_id, reason, code)
        await deps.outbox.add(
            conn,
            IndexFailed(source_id=request.source_id, dataset=request.dataset, error=reason, error_code=code),
        )


@asynccontextmanager
async def worker_consumers(deps: Deps) -> AsyncIterator[list[EventConsumer]]:
    """The worker process's consumer, with the HTTP session it shares."""
    async with aiohttp.ClientSession() as session:
        index_deps = IndexDeps(deps.pool, deps.outbox, CatalogClient(session, deps.config.infra.catalog_url))
        consumer = deps.consumer(WORKER_GROUP)
        # Not transactional: a run spans many transactions and is idempotent by the source's own state.
        consumer.on(IndexRequested, partial(handle_index_requested, deps=index_deps), transactional=False)
        yield [consumer]
