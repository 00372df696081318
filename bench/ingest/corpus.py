"""The benchmark's dataset: rows of English-like text in parquet shards, the same for every phase.

Rows are made from a fixed table of sentences (words drawn by Zipf-like ranks from a vocabulary
whose top ranks are real stop words), so a row's text is ~750 characters, common words are very
common, and building 2M rows takes seconds in pure Python. Ten marker words each sit in 5 % of the
rows: they are the "one common word" queries. Each row also carries a token of its own (`r<index>`).
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

STOP_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
]
MARKERS = ["harbor", "lantern", "meadow", "copper", "violet", "glacier", "falcon", "orchard", "quartz", "tundra"]
SENTENCES = 20_000
SENTENCES_PER_ROW = 7  # ~750 characters a row: 2M rows make ~1 GB of parquet
# Bump when the rows change: a kept corpus (its folder is named for this) is then written again.
VERSION = 1


def _vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = set(STOP_WORDS)
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))))
    return STOP_WORDS + sorted(words - set(STOP_WORDS))


@functools.cache
def _sentences(seed: int) -> list[str]:
    """The sentence table rows are made of (cached: the queries need it too)."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng)
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(vocabulary))))
    return [" ".join(rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(12, 18))) for _ in range(SENTENCES)]


@dataclass(frozen=True)
class Corpus:
    folder: Path
    shards: list[Path]
    rows: int

    def two_word_queries(self, n: int, seed: int = 7) -> list[str]:
        """Two words of one row each (its own token and a word near it), as a user quoting a row would."""
        rng = random.Random(seed)
        sentences = _sentences(1)
        queries = []
        for _ in range(n):
            i = rng.randrange(self.rows)
            words = row_text(i, sentences).split()
            queries.append(f"r{i} {rng.choice(words[1:20])}")
        return queries


def row_text(i: int, sentences: list[str]) -> str:
    parts = [f"r{i}"] + [sentences[(i * 7919 + k * 104729) % SENTENCES] for k in range(SENTENCES_PER_ROW)]
    if i % 20 < len(MARKERS):
        parts.insert(2, MARKERS[i % 20])  # marker j sits in rows with i % 20 == j: 5 % of the rows each
    return " ".join(parts)


def folder_name(rows: int, shard_rows: int, row_group_rows: int) -> str:
    """A kept corpus's folder: named for all that makes its shards, so a different corpus never reuses it."""
    return f"ingest-corpus-v{VERSION}-{rows}-rows-{shard_rows}-per-shard-{row_group_rows}-per-row-group"


def make(folder: Path, rows: int, shard_rows: int, row_group_rows: int) -> Corpus:
    """Write (or reuse) the shards: columns id, text, label.

    A shard is written under a temporary name and renamed when complete, so an interrupted run leaves no
    half-written shard to be taken for a whole one next time."""
    folder.mkdir(parents=True, exist_ok=True)
    sentences = _sentences(1)
    shards = []
    for start in range(0, rows, shard_rows):
        stop = min(rows, start + shard_rows)
        path = folder / f"train-{start // shard_rows:05d}.parquet"
        shards.append(path)
        if path.exists() and pq.ParquetFile(path).metadata.num_rows == stop - start:
            continue
        table = pa.table(
            {
                "id": pa.array(range(start, stop), pa.int64()),
                "text": [row_text(i, sentences) for i in range(start, stop)],
                "label": pa.array([i % 5 for i in range(start, stop)], pa.int8()),
            }
        )
        partial = path.with_suffix(".partial")
        pq.write_table(table, partial, row_group_size=row_group_rows)
        partial.replace(path)
    return Corpus(folder, shards, rows)
