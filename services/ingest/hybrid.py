"""Hybrid ranking as Nia scores it: `alpha` * vector + (1 - `alpha`) * BM25, alpha 0.7 by default.

The two scores live on different scales, so each is brought to [0, 1] first: BM25 is divided by the
best BM25 score among the query's keyword candidates, and cosine similarity counts from 0 (a negative
cosine, a chunk pointing away from the query, adds nothing). Candidates are the union of the best
keyword hits and the nearest vectors; a keyword hit gets its exact cosine, and a vector-only
candidate scores 0 on BM25 (it was not among the best keyword hits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.ingest.chunk_store import Hit
from services.ingest.vector_store import ChunkKey

DEFAULT_ALPHA = 0.7
CANDIDATES = 50  # per side: keyword hits and nearest vectors considered before blending


@dataclass(frozen=True)
class Blended:
    index: str
    key: ChunkKey
    score: float
    hit: Hit | None  # the keyword hit (with its text), None for a vector-only candidate


def blend(
    keyword: list[Hit],
    nearest: list[tuple[str, ChunkKey, float]],
    cosine_of: Callable[[str, ChunkKey], float | None],
    alpha: float,
) -> list[Blended]:
    """Keyword hits and nearest vectors (index, key, cosine) blended, best first."""
    best_bm25 = max((h.score for h in keyword), default=0.0) or 1.0
    blended: dict[tuple[str, ChunkKey], Blended] = {}
    for hit in keyword:
        key = (hit.split, hit.row_index, hit.chunk_index)
        cosine = cosine_of(hit.index, key) or 0.0
        score = alpha * max(cosine, 0.0) + (1 - alpha) * hit.score / best_bm25
        blended[(hit.index, key)] = Blended(hit.index, key, score, hit)
    for index, key, cosine in nearest:
        if (index, key) not in blended:
            blended[(index, key)] = Blended(index, key, alpha * max(cosine, 0.0), None)
    return sorted(blended.values(), key=lambda b: b.score, reverse=True)
