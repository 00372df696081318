"""The ingest worker process: the IndexRequested consumer, and the executor that runs the index runs.

The consumer's handler is short and transactional (with the inbox): it records the source as
processing, announces IndexStarted and queues a run, all in one transaction. The run itself is
done by `RunExecutor` (services/ingest/runs.py) outside the poll loop, so a run of hours never
keeps the consumer from polling and never holds a partition.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import aiohttp
import asyncpg

from contracts.ingest import IndexCompleted, IndexRequested, IndexStarted
from services.ingest import store
from services.ingest.catalog_client import CatalogClient
from services.ingest.chunk_store import TantivyStore
from services.ingest.embedder import EMBEDDER_GROUP, EmbedExecutor, QueueDeps, handle_index_completed
from services.ingest.runs import RunDeps, RunExecutor
from services.ingest.semantic import LazyEmbedder, semantic_installed
from services.ingest.settings import IngestSettings, service_token_source
from services.ingest.shards import http_filesystem
from services.runtime.consumer import Received
from services.runtime.deps import Background, Deps
from services.runtime.outbox import Outbox

log = logging.getLogger(__name__)

WORKER_GROUP = "ingest-worker"


@dataclass(frozen=True)
class RequestDeps:
    outbox: Outbox


async def handle_index_requested(
    message: Received[IndexRequested], conn: asyncpg.Connection, *, deps: RequestDeps
) -> None:
    request = message.data
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
        return  # this request was queued already (the inbox makes this rare: a second consumer group, say)
    for cancelled in await store.cancel_runs(conn, request.source_id):
        # A newer request supersedes a run still going (a repo updated while it was indexed).
        log.info(
            "run %s of source %s superseded by request %s", cancelled["id"], request.source_id, message.envelope.id
        )
    await store.mark_processing(conn, request.source_id, message.envelope.id)
    await store.insert_run(conn, uuid.uuid4(), request.source_id, message.envelope.id)
    await deps.outbox.add(conn, IndexStarted(source_id=request.source_id, dataset=request.dataset))


@asynccontextmanager
async def worker_consumers(deps: Deps) -> AsyncIterator[list[Background]]:
    """The worker process's consumer and run executor, with the HTTP session they share."""
    settings = IngestSettings.from_infra(deps.config.infra)
    token = service_token_source(settings, deps.config.infra.home)
    async with aiohttp.ClientSession() as session:
        consumer = deps.consumer(WORKER_GROUP)
        consumer.on(IndexRequested, partial(handle_index_requested, deps=RequestDeps(deps.outbox)))
        chunks = TantivyStore(settings.chunk_dir)
        semantic = settings.semantic and semantic_installed()
        embed_queue = deps.consumer(EMBEDDER_GROUP)
        embed_queue.on(IndexCompleted, partial(handle_index_completed, deps=QueueDeps(enabled=semantic)))
        executor = RunExecutor(
            RunDeps(
                pool=deps.pool,
                outbox=deps.outbox,
                catalog=CatalogClient(session, deps.config.infra.catalog_url, token),
                chunks=chunks,
                filesystem=lambda: http_filesystem(token()),
                sampling=settings.sampling,
                lease_seconds=settings.run_lease_seconds,
            )
        )
        background: list[Background] = [consumer, executor, embed_queue]
        if semantic:
            background.append(EmbedExecutor(deps.pool, chunks, LazyEmbedder(threads=None)))
            log.info("semantic search on: this worker embeds completed indexes (it loads the model for the first one)")
        yield background
