"""Baseline (a): the same shards read with pyarrow and loaded straight into tantivy, no service around it.

Configured as the service's store is (the same schema, writer settings and commit per row group, the
merged segments' pages given back while it writes: chunk_store.WRITER_SETTINGS, mapped_pages.py) and
with the same text per row (`name: value` lines), so the difference is what the service adds: HTTP
range reads, the generic chunker, checkpoints in PostgreSQL, events. Run as a process of its own,
like the worker phase, for a comparable peak RSS; prints one JSON line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import tantivy

from bench.ingest.memory import PeakMemory
from services.ingest import chunk_store
from services.ingest.mapped_pages import MergedPages, give_back_freed_heap


def load(shards: list[Path], index_dir: Path) -> dict:
    index_dir.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(chunk_store.chunk_schema(), path=str(index_dir))
    writer = index.writer(**chunk_store.WRITER_SETTINGS)
    started = time.perf_counter()
    # As the store's writer does: merged segments' pages are given back while it writes (mapped_pages.py).
    with PeakMemory() as memory, MergedPages(index_dir):
        rows = _add_all(shards, writer)
        writer.wait_merging_threads()
    return {"seconds": time.perf_counter() - started, "rows": rows, **memory.as_json()}


def _add_all(shards: list[Path], writer: tantivy.IndexWriter) -> int:
    row = 0
    for shard_number, path in enumerate(shards):
        parquet = pq.ParquetFile(path)
        for rg in range(parquet.metadata.num_row_groups):
            table = parquet.read_row_group(rg)
            unit = f"default/train/{shard_number}/{rg}"
            for id_, text, label in zip(
                table.column("id").to_pylist(),
                table.column("text").to_pylist(),
                table.column("label").to_pylist(),
                strict=True,
            ):
                writer.add_document(
                    tantivy.Document(
                        text=f"id: {id_}\ntext: {text}\nlabel: {label}", split="train", row=row, chunk=0, unit=unit
                    )
                )
                row += 1
            writer.commit()
            give_back_freed_heap()  # as the store's writer does after a commit
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("shards", type=Path, nargs="+")
    args = parser.parse_args()
    sys.stdout.write(orjson.dumps(load(args.shards, args.index_dir)).decode() + "\n")


if __name__ == "__main__":
    main()
