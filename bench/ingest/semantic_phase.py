"""The semantic part of `hubstream bench ingest`: hybrid search latency and the embedder's rate.

- Hybrid p99 over a 100K-row source: the corpus's first rows go through the worker's chunking into a
  chunk index, with synthetic unit vectors (384 dimensions, seeded) stored beside them as the embedder
  stores its own; each query is embedded for real when the `semantic` extra is installed (a synthetic
  query vector otherwise, said in the output), then `search_sources` blends alpha * vector + (1 - alpha)
  * BM25. Beside it, in the same run: the same queries in keyword mode on the same index.
- Embedding chunks/s: the worker's EmbedExecutor (scan, embed in parts, write the vectors, checkpoint in
  PostgreSQL) beside the bare model encoding the same chunk texts with the same batch size. Only with the
  extra installed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bench.ingest import corpus as corpora
from services.ingest import store
from services.ingest.chunk_store import TantivyStore
from services.ingest.chunking import chunks_of_batch, columns_of
from services.ingest.embedder import PART_CHUNKS, EmbedExecutor
from services.ingest.hybrid import DEFAULT_ALPHA
from services.ingest.search import search_sources
from services.ingest.semantic import BATCH, Embedder, LazyEmbedder, load_embedder
from services.ingest.vector_store import unit_rows
from services.registry import definition
from services.runtime import db, migrations

HYBRID_ROWS = 100_000
DIMENSIONS = 384
GOAL_HYBRID_P99_MS = 150.0
GOAL_EMBED_OF_BARE = 0.90


@dataclass
class Semantic:
    rows: int = 0
    real_query: bool = False
    hybrid_p50: list[float] = field(default_factory=list)
    hybrid_p99: list[float] = field(default_factory=list)
    query_embed_p50: list[float] = field(default_factory=list)  # the query's embedding, part of hybrid
    query_embed_p99: list[float] = field(default_factory=list)
    # CPU time of the whole process per hybrid query (every thread's): what the query costs whatever the
    # machine's load does to its latency (on a busy machine, wall time is this stretched by waiting for a core).
    cpu_p50: list[float] = field(default_factory=list)
    cpu_p99: list[float] = field(default_factory=list)
    keyword_p50: list[float] = field(default_factory=list)
    keyword_p99: list[float] = field(default_factory=list)
    ours: list[float] = field(default_factory=list)  # chunks/s
    bare: list[float] = field(default_factory=list)
    ours_cpu: list[float] = field(default_factory=list)  # chunks per CPU second (all threads)
    bare_cpu: list[float] = field(default_factory=list)
    embed_chunks: int = 0


def build_index(chunks: TantivyStore, name: str, corpus: corpora.Corpus, rows: int) -> int:
    """The corpus's first `rows` rows, chunked as the worker chunks them, in one index; returns the chunks."""
    writer = chunks.writer(name)
    written, row = 0, 0
    try:
        for path in corpus.shards:
            parquet = pq.ParquetFile(path)
            columns = columns_of(parquet.schema_arrow)
            for rg in range(parquet.metadata.num_row_groups):
                if row >= rows:
                    break
                batch = parquet.read_row_group(rg).slice(0, rows - row)
                written += writer.add(f"u{row}", chunks_of_batch(batch, columns, split="train", first_row=row))
                row += batch.num_rows
        writer.commit()
    finally:
        writer.close()
    return written


def synthetic_vectors(chunks: TantivyStore, name: str) -> int:
    keys = [(h.split, h.row_index, h.chunk_index) for h in chunks.scan(name)]
    rng = np.random.default_rng(11)
    files = chunks.vector_files(name)
    for part, start in enumerate(range(0, len(keys), 50_000)):
        block = keys[start : start + 50_000]
        files.write_part(part, block, rng.standard_normal((len(block), DIMENSIONS), dtype=np.float32))
    return len(keys)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def hybrid_round(
    chunks: TantivyStore, name: str, queries: list[str], query_embedder: LazyEmbedder, result: Semantic
) -> None:
    """Each query as the API serves it: embedded by the API's own query embedder, then searched."""
    source = {"id": uuid.uuid4(), "dataset": "bench/corpus", "index_name": name, "vector_index": name,
              "vector_status": "completed"}  # fmt: skip
    rng = np.random.default_rng(3)
    hybrid, embedding, cpu, keyword = [], [], [], []
    for i, q in enumerate(queries):
        started, cpu_started = time.perf_counter(), time.process_time()
        vector = query_embedder.embed_query(q)
        embedded = time.perf_counter()
        if vector is None:
            vector = unit_rows(rng.standard_normal((1, DIMENSIONS)))[0]
        hits, mode = search_sources(chunks, [source], q, 10, alpha=DEFAULT_ALPHA, query_vector=vector)  # type: ignore[list-item]
        elapsed, cpu_time = time.perf_counter() - started, time.process_time() - cpu_started
        assert mode == "hybrid", mode
        assert hits, f"no hybrid hit for {q!r}"
        if i >= 5:  # the first queries warm the files and the vectors' cache
            hybrid.append(elapsed)
            embedding.append(embedded - started)
            cpu.append(cpu_time)
        started = time.perf_counter()
        search_sources(chunks, [source], q, 10)  # type: ignore[list-item]
        keyword.append(time.perf_counter() - started)
    p50, p99 = _percentiles(hybrid)
    result.hybrid_p50.append(p50)
    result.hybrid_p99.append(p99)
    p50, p99 = _percentiles(embedding)
    result.query_embed_p50.append(p50)
    result.query_embed_p99.append(p99)
    p50, p99 = _percentiles(cpu)
    result.cpu_p50.append(p50)
    result.cpu_p99.append(p99)
    p50, p99 = _percentiles(keyword)
    result.keyword_p50.append(p50)
    result.keyword_p99.append(p99)


async def embed_round(
    database_url: str, chunks: TantivyStore, corpus: corpora.Corpus, embedder: Embedder, n: int, result: Semantic
) -> None:
    name = f"embed/{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(build_index, chunks, name, corpus, n)
    texts = [h.text for h in chunks.scan(name)]
    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.to_thread(embedder.embed, texts)  # the bare model: the same texts and batch size
    result.bare.append(len(texts) / (time.perf_counter() - started))
    result.bare_cpu.append(len(texts) / (time.process_time() - cpu_started))
    await migrations.migrate(database_url, "ingest", definition("ingest").migrations())
    async with db.pool_context(database_url, "ingest") as pool:
        source_id = uuid.uuid4()
        async with pool.acquire() as conn, conn.transaction():
            await store.insert_source(conn, source_id=source_id, dataset="bench/corpus", config=None,
                                      is_global=False, requested_by="bench")  # fmt: skip
            await conn.execute(
                "UPDATE sources SET status = 'completed', index_name = $2 WHERE id = $1", source_id, name
            )
            assert await store.queue_embedding(conn, source_id, name)
        started, cpu_started = time.perf_counter(), time.process_time()
        assert await EmbedExecutor(pool, chunks, embedder, owner="bench").run_one()
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        row = await store.source(pool, source_id)
        assert row is not None
        assert row["vector_status"] == "completed", row["vector_error"]
        result.ours.append(row["embedded_chunk_count"] / seconds)
        result.ours_cpu.append(row["embedded_chunk_count"] / cpu_seconds)
    chunks.drop(name)


async def measure(
    args_rounds: int, queries: int, embed_chunks: int, corpus: corpora.Corpus, work: Path, database_url: str
) -> Semantic:
    result = Semantic(embed_chunks=embed_chunks)
    chunks = TantivyStore(work / "semantic")
    name = "hybrid/100k"
    result.rows = min(HYBRID_ROWS, corpus.rows)
    await asyncio.to_thread(build_index, chunks, name, corpus, result.rows)
    await asyncio.to_thread(synthetic_vectors, chunks, name)
    query_embedder = LazyEmbedder()
    result.real_query = query_embedder.installed
    await asyncio.to_thread(query_embedder.embed_query, "load the model")  # the API loads it at its first query
    words = corpus.two_word_queries(queries + 5)
    for _ in range(args_rounds):
        await asyncio.to_thread(hybrid_round, chunks, name, words, query_embedder, result)
    if query_embedder.installed:
        embedder = await asyncio.to_thread(load_embedder)  # the worker's: batches on every core
        for _ in range(args_rounds):
            await embed_round(database_url, chunks, corpus, embedder, embed_chunks, result)
    return result


def spread(values: list[float], fmt: str = ",.2f") -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def report(result: Semantic) -> list[tuple[str, bool]]:
    """Print the semantic figures; the goals they meet or miss."""
    query = "embedded for real (all-MiniLM-L6-v2)" if result.real_query else "SYNTHETIC (the extra is not installed)"
    print(f"\nhybrid search over {result.rows:,} rows with synthetic stored vectors, query {query}; top 10,")
    print(f"alpha {DEFAULT_ALPHA}, median of {len(result.hybrid_p99)} rounds (min-max):")
    print(f"  hybrid  p50 {spread(result.hybrid_p50)} ms   p99 {spread(result.hybrid_p99)} ms")
    print(f"  CPU per hybrid query (all threads) p50 {spread(result.cpu_p50)} ms   p99 {spread(result.cpu_p99)} ms")
    if result.real_query:
        print(f"  (of which the query's embedding p50 {spread(result.query_embed_p50)} ms   "
              f"p99 {spread(result.query_embed_p99)} ms)")  # fmt: skip
    print(
        f"  keyword p50 {spread(result.keyword_p50)} ms   p99 {spread(result.keyword_p99)} ms  (same index, baseline)"
    )
    p99 = statistics.median(result.hybrid_p99)
    checks = [(f"hybrid p99 {p99:.1f} ms over {result.rows:,} rows (goal < {GOAL_HYBRID_P99_MS:.0f} ms)",
               p99 < GOAL_HYBRID_P99_MS)]  # fmt: skip
    if not result.ours:
        print("embedding rate: not measured (the `semantic` extra is not installed: make semantic)")
        return checks
    print(f"\nembedding {result.embed_chunks:,} chunks of the corpus, batch {BATCH}, parts of {PART_CHUNKS}, chunks/s:")
    print(f"  hubstream EmbedExecutor (scan, embed, vector parts, checkpoints) {spread(result.ours, ',.1f')}")
    print(f"  bare model encode of the same texts                             {spread(result.bare, ',.1f')}")
    print(f"  per CPU second (all threads; a busy machine stretches wall time, not this): hubstream "
          f"{spread(result.ours_cpu, ',.1f')}, bare {spread(result.bare_cpu, ',.1f')}")  # fmt: skip
    share = statistics.median(result.ours) / statistics.median(result.bare)
    checks.append((f"embedding at {share:.0%} of the bare model (goal ≥ {GOAL_EMBED_OF_BARE:.0%})",
                   share >= GOAL_EMBED_OF_BARE))  # fmt: skip
    return checks
