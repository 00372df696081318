"""A closed chunk writer writes nothing more: a cancelled run's index, dropped right after, stays dropped."""

from __future__ import annotations

import os
import time
from pathlib import Path

from services.ingest.chunk_store import TantivyStore
from services.ingest.chunking import Chunk

UNITS, ROWS = 30, 2000  # commits of this size keep tantivy merging when the writer is closed
FILLER = "lorem ipsum dolor sit amet " * 12


def test_no_merge_writes_into_the_index_after_its_writer_is_closed_and_it_is_dropped(tmp_path: Path) -> None:
    # Found as a flaky e2e cancel test: a run cancelled mid-way closed its writer and dropped its index, and a
    # segment merge the writer had running wrote its files into the directory afterwards, so they stayed.
    left = []
    for trial in range(3):
        store = TantivyStore(tmp_path / str(trial))
        writer = store.writer("source/run")
        for u in range(UNITS):
            writer.add(f"u{u}", (Chunk("train", u * ROWS + i, 0, f"row {u} {i} {FILLER}") for i in range(ROWS)))
            writer.commit()
        writer.close()
        store.drop("source/run")
        time.sleep(0.3)  # time for a merge still running to write its files
        index = tmp_path / str(trial) / "source" / "run"
        if index.exists():
            left.append(sorted(os.listdir(index)))
    assert left == []
