"""The embedder: after keyword indexing, a source's chunks are embedded so that it gains hybrid search.

A consumer group of its own (`ingest-embedder`) reads IndexCompleted and queues the completed index
for embedding in PostgreSQL (vector_status 'queued', in the inbox's transaction); an `EmbedExecutor`
in each worker process that has the `semantic` extra claims one queued source at a time with a lease
(as runs do), embeds its chunks in batches, writes each batch as one vector part beside the chunks and
records `embedded_chunk_count`; the source is keyword-searchable all along and becomes hybrid when
vector_status turns 'completed'. A worker that dies leaves the lease to expire; whoever takes over
removes the parts past the count and goes on from there. Without the extra the executor is not
started and nothing is queued: sources stay keyword-only (vector_status null).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from itertools import islice

import asyncpg

from contracts.ingest import IndexCompleted
from services.ingest import store
from services.ingest.chunk_store import ChunkStore
from services.ingest.runs import IDLE_POLL_SECONDS, worker_name
from services.ingest.semantic import ModelUnavailable, TextEmbedder
from services.runtime.consumer import Received

log = logging.getLogger(__name__)

EMBEDDER_GROUP = "ingest-embedder"
PART_CHUNKS = 512  # chunks per vector part (and per checkpoint)
LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class QueueDeps:
    enabled: bool  # the extra is installed in this worker: otherwise nothing is queued


async def handle_index_completed(
    message: Received[IndexCompleted], conn: asyncpg.Connection, *, deps: QueueDeps
) -> None:
    if not deps.enabled:
        return
    source = await store.lock_source(conn, message.data.source_id)
    if source is None or source["index_name"] is None:
        return  # deleted since, or its index was replaced and dropped
    if await store.queue_embedding(conn, source["id"], source["index_name"]):
        log.info("source %s (%s) queued for embedding", source["id"], source["dataset"])


class EmbedExecutor:
    """Claims queued sources one at a time and embeds their current index (a background task)."""

    group = "ingest-embed"

    def __init__(
        self, pool: asyncpg.Pool, chunks: ChunkStore, embedder: TextEmbedder, owner: str | None = None
    ) -> None:
        self.pool = pool
        self.chunks = chunks
        self.embedder = embedder
        self.owner = owner or worker_name()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            if not await self.run_one(stopping):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), IDLE_POLL_SECONDS)

    async def run_one(self, stopping: asyncio.Event | None = None) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            source = await store.claim_embedding(conn, self.owner, LEASE_SECONDS)
        if source is None:
            return False
        index = source["vector_index"]
        try:
            finished = await self._embed(source, index, stopping or asyncio.Event())
        except ModelUnavailable:
            # Not the source's fault: it stays claimed until its lease runs out, and is embedded then by a
            # worker that has the model (this one, once its supervisor has started the loop again).
            raise
        except Exception as exc:
            log.exception("embedding source %s failed", source["id"])
            async with self.pool.acquire() as conn:
                await store.finish_embedding(
                    conn, source["id"], self.owner, index, "failed", f"embedding stopped on an error: {exc!r}"
                )
            return True
        if finished:
            async with self.pool.acquire() as conn:
                await store.finish_embedding(conn, source["id"], self.owner, index, "completed", None)
        return True

    async def _embed(self, source: asyncpg.Record, index: str, stopping: asyncio.Event) -> bool:
        """Embed from the checkpoint on; False when stopped or the work was taken away."""
        files = self.chunks.vector_files(index)
        done = source["embedded_chunk_count"]
        # Parts are PART_CHUNKS each: the count is a whole number of parts, and later parts are stale.
        await asyncio.to_thread(files.remove_from, done // PART_CHUNKS)
        # Read lazily, a part at a time (in a thread: tantivy reads block), so memory stays one part's worth.
        scan = self.chunks.scan(index)
        await asyncio.to_thread(lambda: sum(1 for _ in islice(scan, done)))
        started, embedded_here = time.monotonic(), 0
        while batch := await asyncio.to_thread(lambda: list(islice(scan, PART_CHUNKS))):
            if stopping.is_set():
                return False
            vectors = await asyncio.to_thread(self.embedder.embed, [h.text for h in batch])
            keys = [(h.split, h.row_index, h.chunk_index) for h in batch]
            await asyncio.to_thread(files.write_part, done // PART_CHUNKS, keys, vectors)
            done += len(batch)
            embedded_here += len(batch)
            async with self.pool.acquire() as conn:
                if not await store.embedding_checkpoint(conn, source["id"], self.owner, index, done, LEASE_SECONDS):
                    return False
        rate = embedded_here / max(time.monotonic() - started, 1e-9)
        log.info("embedded source %s (%s): %d chunks (%.0f chunks/s)", source["id"], source["dataset"], done, rate)
        return True
