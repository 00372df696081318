"""Search over indexed sources: BM25 from the chunk store, blended with vectors where a source has them.

Keyword scores are BM25 (tantivy). Nia blends vector and keyword scores as
`alpha * vector + (1 - alpha) * bm25` (services/ingest/hybrid.py). A source gains vectors when the
optional embedder (the `semantic` extra) has embedded its current index; until then, or without a
query vector, its hits are keyword hits ranked by BM25 alone, and the answer says which mode served it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import asyncpg
import numpy as np

from services.ingest.chunk_store import ChunkStore, Hit
from services.ingest.hybrid import CANDIDATES, DEFAULT_ALPHA, blend


@dataclass(frozen=True)
class SourceHit:
    source: asyncpg.Record
    hit: Hit

    def as_json(self, catalog_url: str) -> dict:
        dataset = self.source["dataset"]
        return {
            "content": self.hit.text,
            "score": self.hit.score,
            "source_id": str(self.source["id"]),
            "dataset": dataset,
            "split": self.hit.split,
            "row_index": self.hit.row_index,
            "chunk_index": self.hit.chunk_index,
            "url": f"{catalog_url.rstrip('/')}/datasets/{dataset}",
            "source_type": "huggingface_dataset",
        }

    @property
    def path(self) -> str:
        return f"{self.source['dataset']}/{self.hit.split}/{self.hit.row_index}"


def has_vectors(source: asyncpg.Record) -> bool:
    """Its current index is embedded (a re-indexed source is keyword-only until its new index is)."""
    return source["vector_status"] == "completed" and source["vector_index"] == source["index_name"]


def search_sources(
    store: ChunkStore,
    sources: list[asyncpg.Record],
    query: str,
    limit: int,
    *,
    alpha: float = DEFAULT_ALPHA,
    query_vector: np.ndarray | None = None,
) -> tuple[list[SourceHit], str]:
    """The best `limit` chunks for `query` over the sources' completed indexes, best first, and the mode
    ("hybrid" when a query vector was given and a source has vectors, else "keyword")."""
    by_index = {s["index_name"]: s for s in sources if s["index_name"]}
    vectors = {}
    if query_vector is not None:
        for name, source in by_index.items():
            if has_vectors(source) and (stored := store.vectors(name)) is not None:
                vectors[name] = stored
    if not vectors:
        return [SourceHit(by_index[h.index], h) for h in store.search(list(by_index), query, limit)], "keyword"
    assert query_vector is not None
    keyword = store.search(list(by_index), query, max(limit, CANDIDATES))
    nearest = [
        (name, key, cosine)
        for name, stored in vectors.items()
        for key, cosine in stored.top(query_vector, max(limit, CANDIDATES))
    ]

    def cosine_of(index: str, key: tuple[str, int, int]) -> float | None:
        stored = vectors.get(index)
        return None if stored is None else stored.cosine(key, query_vector)

    ranked = blend(keyword, nearest, cosine_of, alpha)[:limit]
    texts: dict[str, dict] = {}
    for name in {r.index for r in ranked if r.hit is None}:  # vector-only candidates: their text from the store
        texts[name] = store.chunks_at(name, [r.key for r in ranked if r.hit is None and r.index == name])
    found = []
    for r in ranked:
        hit = r.hit or texts[r.index].get(r.key)
        if hit is not None:
            found.append(SourceHit(by_index[r.index], replace(hit, score=r.score)))
    return found, "hybrid"
