"""Hybrid search and the embedder's bookkeeping, without the model: vectors are given, not computed.

The hybrid score is alpha * cosine + (1 - alpha) * BM25 / best BM25 (services/ingest/hybrid.py), over a
real tantivy index and vector parts on disk; the embedder runs on real PostgreSQL and tantivy with a
deterministic stand-in for the model (the model itself is tested in test_semantic_model.py, when the
`semantic` extra is installed).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from aiokafka.structs import ConsumerRecord

from bench.ingest.static_catalog import text_table
from contracts import wrap
from contracts.ingest import IndexCompleted
from services.ingest import semantic
from services.ingest.chunk_store import TantivyStore
from services.ingest.chunking import Chunk
from services.ingest.embedder import PART_CHUNKS, EmbedExecutor, QueueDeps, handle_index_completed
from services.ingest.search import search_sources
from services.ingest.sources import source_json
from services.ingest.vector_store import unit_rows
from services.runtime.consumer import Received
from tests.services.test_ingest_runs import Harness, catalog, harness, pool  # noqa: F401  (fixtures)

E1, E2 = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]


def fruit_index(tmp_path: Path) -> tuple[TantivyStore, str]:
    chunks = TantivyStore(tmp_path / "chunks")
    writer = chunks.writer("s/r")
    texts = ["apple apple apple", "apple pear", "kiwi plum"]
    writer.add("u0", [Chunk("train", i, 0, text) for i, text in enumerate(texts)])
    writer.commit()
    writer.close()
    return chunks, "s/r"


def source(index: str, vector_status: str | None = "completed") -> dict:
    return {"id": uuid.uuid4(), "dataset": "acme/fruit", "index_name": index, "vector_index": index,
            "vector_status": vector_status}  # fmt: skip


def test_hybrid_blends_cosine_and_normalised_bm25_with_alpha(tmp_path: Path) -> None:
    chunks, index = fruit_index(tmp_path)
    # Row 0 matches "apple" best by BM25 but points away from the query; row 1 is the query's direction;
    # row 2 does not contain the word at all and is halfway.
    chunks.vector_files(index).write_part(0, [("train", 0, 0), ("train", 1, 0), ("train", 2, 0)],
                                          np.stack([E2, E1, E1 + E2]))  # fmt: skip
    bm25 = {h.row_index: h.score for h in chunks.search([index], "apple", 10)}
    assert bm25[0] > bm25[1]
    assert 2 not in bm25

    hits, mode = search_sources(chunks, [source(index)], "apple", 10, alpha=0.7, query_vector=E1)
    assert mode == "hybrid"
    got = {h.hit.row_index: h.hit.score for h in hits}
    assert [h.hit.row_index for h in hits] == [1, 2, 0]
    assert got[1] == pytest.approx(0.7 * 1.0 + 0.3 * bm25[1] / bm25[0], rel=1e-5)
    assert got[2] == pytest.approx(0.7 * np.sqrt(0.5), rel=1e-5)  # found by its vector alone
    assert got[0] == pytest.approx(0.3, rel=1e-5)
    assert hits[1].hit.text == "kiwi plum"  # a vector-only hit still carries its text

    keyword_only, _ = search_sources(chunks, [source(index)], "apple", 10, alpha=0.0, query_vector=E1)
    assert [h.hit.row_index for h in keyword_only][:2] == [0, 1]


def test_sources_without_vectors_stay_keyword_searchable(tmp_path: Path) -> None:
    chunks, index = fruit_index(tmp_path)
    for vector_status, query_vector in (("completed", None), (None, E1), ("embedding", E1)):
        hits, mode = search_sources(chunks, [source(index, vector_status)], "apple", 10, query_vector=query_vector)
        assert mode == "keyword"
        assert [h.hit.row_index for h in hits] == [0, 1]
    stale = source(index) | {"vector_index": "s/older-run"}  # re-indexed: the vectors are of the old index
    assert search_sources(chunks, [stale], "apple", 10, query_vector=E1)[1] == "keyword"


class HashEmbedder:
    """Stands in for the model: a fixed vector per text, so that results are reproducible."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little") for t in texts]
        return unit_rows(np.stack([np.random.default_rng(s).standard_normal(8) for s in seeds]))


def index_completed(source_id: uuid.UUID, rows: int) -> Received[IndexCompleted]:
    completed = IndexCompleted(
        source_id=source_id, row_count=rows, indexed_row_count=rows, chunk_count=rows, sampling_strategy="full"
    )
    return Received(wrap(completed, source="/t"), completed, ConsumerRecord("t", 0, 0, 0, 0, None, b"", None, 0, 0, ()))


async def test_a_completed_index_is_queued_embedded_in_parts_and_counted(harness: Harness, catalog) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    catalog.add("acme/fruit", "default", "train", text_table(1200))
    source_id = await harness.request("acme/fruit")
    assert await harness.executor().run_one()
    row = await harness.source(source_id)
    assert (row["status"], row["chunk_count"], row["vector_status"]) == ("completed", 1200, None)
    record = source_json(row, "http://catalog")
    assert (record["vector_status"], record["embedded_chunk_count"]) == (None, 0)

    received = index_completed(source_id, 1200)
    async with harness.pool.acquire() as conn, conn.transaction():
        await handle_index_completed(received, conn, deps=QueueDeps(enabled=False))
    assert (await harness.source(source_id))["vector_status"] is None  # without the extra, nothing is queued
    async with harness.pool.acquire() as conn, conn.transaction():
        await handle_index_completed(received, conn, deps=QueueDeps(enabled=True))
    assert source_json(await harness.source(source_id), "http://c")["vector_status"] == "queued"

    embedder = HashEmbedder()
    executor = EmbedExecutor(harness.pool, harness.chunks, embedder, owner="embedder-1")  # type: ignore[arg-type]
    assert await executor.run_one()
    row = await harness.source(source_id)
    record = source_json(row, "http://catalog")
    assert (record["vector_status"], record["embedded_chunk_count"]) == ("completed", 1200)
    assert embedder.calls == -(-1200 // PART_CHUNKS)
    stored = harness.chunks.vectors(row["index_name"])
    assert stored is not None
    assert len(set(stored.keys)) == len(stored) == 1200
    # The text of row 7 embeds to the vector stored for row 7: its nearest chunk is itself.
    (row7,) = [h for h in harness.chunks.rows(row["index_name"], "train", 7, 7, 10)]
    hits, mode = search_sources(
        harness.chunks, [row], "nothing-matches", 3, query_vector=embedder.embed([row7.text])[0]
    )
    assert (mode, hits[0].hit.row_index, hits[0].hit.text) == ("hybrid", 7, row7.text)
    assert not await executor.run_one()  # nothing left to embed

    # A resumed embedding (the worker died after 2 parts) removes the parts past the count and carries on.
    await harness.pool.execute(
        "UPDATE sources SET vector_status = 'embedding', vector_lease_until = now() - interval '1 s', "
        "embedded_chunk_count = $2 WHERE id = $1", source_id, 2 * PART_CHUNKS)  # fmt: skip
    calls = embedder.calls
    assert await EmbedExecutor(harness.pool, harness.chunks, embedder, owner="embedder-2").run_one()  # type: ignore[arg-type]
    assert embedder.calls - calls == -(-(1200 - 2 * PART_CHUNKS) // PART_CHUNKS)
    harness.chunks._vectors.clear()
    again = harness.chunks.vectors(row["index_name"])
    assert again is not None
    assert sorted(again.keys) == sorted(stored.keys)
    assert (await harness.source(source_id))["embedded_chunk_count"] == 1200


async def test_a_model_that_cannot_load_fails_the_worker_not_the_source(  # type: ignore[no-untyped-def]
    harness: Harness,  # noqa: F811
    catalog,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    catalog.add("acme/fruit", "default", "train", text_table(10))
    source_id = await harness.request("acme/fruit")
    assert await harness.executor().run_one()
    async with harness.pool.acquire() as conn, conn.transaction():
        await handle_index_completed(index_completed(source_id, 10), conn, deps=QueueDeps(enabled=True))

    def broken(threads: int | None = None) -> None:
        raise MemoryError("cannot allocate the weights")

    monkeypatch.setattr(semantic, "load_embedder", broken)
    executor = EmbedExecutor(harness.pool, harness.chunks, semantic.LazyEmbedder(threads=None), owner="embedder-1")
    with pytest.raises(semantic.ModelUnavailable, match="cannot allocate the weights"):
        await executor.run_one()  # the process's problem: its supervisor restarts the loop, with backoff
    row = await harness.source(source_id)
    # Still claimed, to be embedded once the lease runs out; not recorded as failed.
    assert (row["vector_status"], row["vector_error"]) == ("embedding", None)
