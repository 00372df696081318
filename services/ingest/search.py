"""Search over indexed sources: BM25 from the chunk store, shaped as Nia's search answers.

Keyword scores are BM25 (tantivy). Nia blends vector and keyword scores as
`alpha * vector + (1 - alpha) * bm25`; until a source has vectors its hits are keyword hits,
ranked by BM25 alone, and the answer says which mode served it.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.ingest.chunk_store import ChunkStore, Hit


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


def search_sources(store: ChunkStore, sources: list[asyncpg.Record], query: str, limit: int) -> list[SourceHit]:
    """The best `limit` chunks for `query` over the sources' completed indexes, best first."""
    by_index = {s["index_name"]: s for s in sources if s["index_name"]}
    hits = store.search(list(by_index), query, limit)
    return [SourceHit(by_index[h.index], h) for h in hits]
