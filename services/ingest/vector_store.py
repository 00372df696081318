"""Chunk vectors, stored beside the chunks of an index, and exact cosine search over them.

An index's vectors live in `<index dir>/vectors/part-NNNNNN.npz`, one file per embedded batch: the
batch's chunk keys (split, row, chunk) and its unit-length float32 vectors. A part is written to a
temporary name and renamed, so a crash leaves whole parts only; the embedder counts the chunks of
whole parts in PostgreSQL and, on resume, rewrites from the first part past that count.

Search is exact (one matrix-vector product): 100K chunks x 384 dimensions take ~10 ms on one core
and 150 MB, which meets the hybrid goal at Nia's sampled sizes (≤100K rows) without an ANN index.
pgvector is not installable here (ingest_refs.md §4.2); LanceDB's vector index is the next step for
corpora much larger than that, behind this same small surface.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ChunkKey = tuple[str, int, int]  # split, row index, chunk index


@dataclass(frozen=True)
class StoredVectors:
    keys: list[ChunkKey]
    matrix: np.ndarray  # (n, dim) float32, unit rows
    position: dict[ChunkKey, int]

    @classmethod
    def of(cls, keys: list[ChunkKey], matrix: np.ndarray) -> StoredVectors:
        return cls(keys, matrix, {key: i for i, key in enumerate(keys)})

    def __len__(self) -> int:
        return len(self.keys)

    def top(self, query: np.ndarray, limit: int) -> list[tuple[ChunkKey, float]]:
        """The `limit` chunks nearest to `query` (a unit vector) by cosine, best first."""
        if not self.keys or limit <= 0:
            return []
        scores = self.matrix @ query.astype(np.float32, copy=False)
        k = min(limit, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        return [(self.keys[i], float(scores[i])) for i in best]

    def cosine(self, key: ChunkKey, query: np.ndarray) -> float | None:
        at = self.position.get(key)
        return None if at is None else float(self.matrix[at] @ query)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero), as float32: cosine becomes a dot product."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


class VectorFiles:
    """The vector parts of one index directory."""

    def __init__(self, index_dir: Path) -> None:
        self.folder = index_dir / "vectors"

    def _part(self, number: int) -> Path:
        return self.folder / f"part-{number:06d}.npz"

    def parts(self) -> list[Path]:
        return sorted(self.folder.glob("part-*.npz")) if self.folder.exists() else []

    def write_part(self, number: int, keys: Sequence[ChunkKey], vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".part-{number:06d}.tmp.npz"
        np.savez(
            temporary,
            split=np.array([k[0] for k in keys], dtype=str),
            row=np.array([k[1] for k in keys], dtype=np.int64),
            chunk=np.array([k[2] for k in keys], dtype=np.int64),
            vectors=unit_rows(vectors),
        )
        os.replace(temporary, self._part(number))

    def remove_from(self, number: int) -> None:
        """Drop part `number` and every later one (written past the last checkpoint)."""
        for path in self.parts():
            if int(path.stem.split("-")[1]) >= number:
                path.unlink()

    def load(self) -> StoredVectors | None:
        parts = self.parts()
        if not parts:
            return None
        keys: list[ChunkKey] = []
        blocks = []
        for path in parts:
            with np.load(path) as part:
                keys += zip(part["split"].tolist(), part["row"].tolist(), part["chunk"].tolist(), strict=True)
                blocks.append(part["vectors"])
        return StoredVectors.of(keys, np.concatenate(blocks))

    def drop(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
