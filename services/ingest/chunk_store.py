"""Where chunks live and how they are searched: one small interface, tantivy behind it.

Why tantivy (an embedded Rust search library with BM25, used through its Python bindings):
measured on this machine for 1M chunks of ~300 characters (`bench/ingest`, and the figures in
the project's search-engine notes), it loads ~60K rows/s and answers a one-common-word query
at ~1.5 ms p99, where PostgreSQL's tsvector + GIN loads 13.5K rows/s and needs ~620 ms at p99
(`ts_rank` scores every match and is not BM25), and LanceDB loads ~37K rows/s with a ~16 ms p99.
PostgreSQL keeps what must be transactional (sources, runs, checkpoints, the outbox); the
chunks, which are derived data that a run can always rebuild, go to the engine that is fast.

Layout: one index directory per index run (`<root>/<source id>/<run id>`). A run writes its own
directory and the source's record points at the run that completed last, so a re-index is
swapped in with one database update and search never sees a half-built index. tantivy allows
one writer per directory (a lock file), which matches one worker per run; readers in any process
reload after each commit. For several machines, the root goes on shared storage (`deploy/README.md`,
"Ingest's chunk store on shared storage": what that supports and its limits), or the interface gets a
cluster engine (Quickwit runs tantivy as one).

Crash safety: the worker commits after each row group and then records the checkpoint in
PostgreSQL. Every chunk carries its unit (split, shard, row group), so on resume the unit past
the checkpoint, which may have been committed here without its checkpoint, is deleted and
written again: no chunk is lost or doubled.

Memory (a worker's budget is 500 MB at 2M rows): the writer holds one indexing arena (the settings
below), and tantivy's merges map the segments they read; `MergedPages` (mapped_pages.py) gives those
pages back while the writer is open, or a 2M-row index's last merges alone would map over 1 GB.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import tantivy

from services.ingest.chunking import Chunk
from services.ingest.mapped_pages import MergedPages, give_back_freed_heap
from services.ingest.vector_store import ChunkKey, StoredVectors, VectorFiles

# The writer's settings, and why (measured with `hubstream bench ingest`, 2M rows of ~750 characters):
# - one indexing thread: the worker's own thread (HTTP, parquet decode, chunking) keeps a core busy, and
#   this machine class has two, so a second indexing thread bought no rows/s; it doubled the segments per
#   commit (one per thread), hence the merges, and held a second indexing arena;
# - 64 MB for that thread (the per-thread budget of the former 128 MB over two threads): a 50K-row row
#   group (the bench's) fits one segment, so a commit makes one segment, not several half-size ones.
# The benchmark's direct load (bench/ingest/direct_phase.py) uses these same settings.
WRITER_THREADS = 1
WRITER_HEAP_BYTES = 64 * 1024 * 1024
WRITER_SETTINGS = {"heap_size": WRITER_HEAP_BYTES, "num_threads": WRITER_THREADS}


@dataclass(frozen=True)
class Hit:
    index: str
    split: str
    row_index: int
    chunk_index: int
    text: str
    score: float


class IndexBusy(Exception):
    """Another writer holds the index (one writer per index at a time)."""


class ChunkWriter(Protocol):
    def remove_unit(self, unit: str) -> None: ...
    def add(self, unit: str, chunks: Iterable[Chunk]) -> int: ...
    def commit(self) -> None: ...
    def close(self) -> None: ...


class ChunkStore(Protocol):
    def writer(self, index: str) -> ChunkWriter: ...
    def search(self, indexes: list[str], query: str, limit: int) -> list[Hit]: ...
    def rows(self, index: str, split: str, first: int, last: int, limit: int) -> list[Hit]: ...
    def chunks_at(self, index: str, keys: list[ChunkKey]) -> dict[ChunkKey, Hit]: ...
    def scan(self, index: str, split: str | None = None, batch: int = 2000) -> Iterator[Hit]: ...
    def count(self, index: str) -> int: ...
    def drop(self, index: str) -> None: ...
    # Vectors beside the chunks (semantic search, services/ingest/vector_store.py).
    def vector_files(self, index: str) -> VectorFiles: ...
    def vectors(self, index: str) -> StoredVectors | None: ...


def chunk_schema() -> tantivy.Schema:
    """The fields every chunk index has (the benchmark's direct load uses it too)."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("split", stored=True, tokenizer_name="raw")
    builder.add_integer_field("row", stored=True, indexed=True, fast=True)
    builder.add_integer_field("chunk", stored=True)
    builder.add_text_field("unit", stored=False, tokenizer_name="raw")
    return builder.build()


class _TantivyWriter:
    def __init__(self, index: tantivy.Index, name: str, path: Path) -> None:
        try:
            self._writer: tantivy.IndexWriter | None = index.writer(**WRITER_SETTINGS)
        except ValueError as exc:
            if "LockBusy" in str(exc):
                raise IndexBusy(f"index {name} is being written by another writer") from exc
            raise
        self._pages = MergedPages(path)
        self._pages.start()

    @property
    def _open(self) -> tantivy.IndexWriter:
        if self._writer is None:
            raise RuntimeError("this chunk writer is closed")
        return self._writer

    def remove_unit(self, unit: str) -> None:
        self._open.delete_documents_by_term("unit", unit)

    def add(self, unit: str, chunks: Iterable[Chunk]) -> int:
        n = 0
        add = self._open.add_document
        for chunk in chunks:
            add(
                tantivy.Document(
                    text=chunk.text, split=chunk.split, row=chunk.row_index, chunk=chunk.chunk_index, unit=unit
                )
            )
            n += 1
        return n

    def commit(self) -> None:
        self._open.commit()
        give_back_freed_heap()

    def close(self) -> None:
        """Release the directory's writer lock; whatever was not committed is dropped. Idempotent."""
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                # Waits for this writer's indexing and merge threads; what was not committed never reaches the
                # index's meta.json, so it is dropped all the same. Not rollback() first: it hands the writer a
                # new merge scheduler, and merges the old one had running went on writing segment files after
                # close returned, into a directory a cancelled run's drop was removing (and so left behind).
                writer.wait_merging_threads()  # merges still running map pages: keep giving them back meanwhile
            finally:
                self._pages.stop()


def _hit(index: str, doc: tantivy.Document, score: float) -> Hit:
    return Hit(index, doc["split"][0], doc["row"][0], doc["chunk"][0], doc["text"][0], score)


class TantivyStore:
    """Chunk indexes as tantivy directories under `root`, named `<source id>/<run id>`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._schema = chunk_schema()
        self._open: dict[str, tantivy.Index] = {}
        self._vectors: dict[str, StoredVectors] = {}
        self._lock = threading.Lock()  # searches run in threads; the cache of open indexes is shared

    def _path(self, index: str) -> Path:
        path = (self.root / index).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"index name {index!r} leaves the store's root")
        return path

    def _index(self, index: str, *, create: bool = False) -> tantivy.Index | None:
        with self._lock:
            if (opened := self._open.get(index)) is not None:
                return opened
            path = self._path(index)
            if not (path / "meta.json").exists():
                if not create:
                    return None
                path.mkdir(parents=True, exist_ok=True)
            opened = tantivy.Index(self._schema, path=str(path), reuse=True)
            self._open[index] = opened
            return opened

    def writer(self, index: str) -> ChunkWriter:
        opened = self._index(index, create=True)
        assert opened is not None
        return _TantivyWriter(opened, index, self._path(index))

    def search(self, indexes: list[str], query: str, limit: int) -> list[Hit]:
        hits: list[Hit] = []
        for name in indexes:
            index = self._index(name)
            if index is None:
                continue
            index.reload()
            parsed, _errors = index.parse_query_lenient(query, ["text"])  # user text: never a syntax error
            searcher = index.searcher()
            for score, address in searcher.search(parsed, limit).hits:
                doc = searcher.doc(address)
                hits.append(Hit(name, doc["split"][0], doc["row"][0], doc["chunk"][0], doc["text"][0], float(score)))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:limit]

    def rows(self, index: str, split: str, first: int, last: int, limit: int) -> list[Hit]:
        """The chunks of rows `first`..`last` (inclusive) of `split`, in row and chunk order (at most `limit`)."""
        opened = self._index(index)
        if opened is None:
            return []
        opened.reload()
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.term_query(self._schema, "split", split)),
                (
                    tantivy.Occur.Must,
                    tantivy.Query.range_query(self._schema, "row", tantivy.FieldType.Integer, first, last),
                ),
            ]
        )
        searcher = opened.searcher()
        found = searcher.search(query, limit, order_by_field="row", order=tantivy.Order.Asc).hits
        hits = [_hit(index, searcher.doc(address), 0.0) for _, address in found]
        return sorted(hits, key=lambda h: (h.row_index, h.chunk_index))

    def chunks_at(self, index: str, keys: list[ChunkKey]) -> dict[ChunkKey, Hit]:
        """The chunks with these (split, row, chunk) keys, read with one searcher (hybrid's vector-only hits)."""
        opened = self._index(index)
        if opened is None or not keys:
            return {}
        opened.reload()
        searcher = opened.searcher()
        found: dict[ChunkKey, Hit] = {}
        for split, row, chunk in keys:
            query = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, tantivy.Query.term_query(self._schema, "split", split)),
                    (tantivy.Occur.Must, tantivy.Query.term_query(self._schema, "row", row)),
                ]
            )
            for _, address in searcher.search(query, 1000).hits:
                hit = _hit(index, searcher.doc(address), 0.0)
                if hit.chunk_index == chunk:
                    found[(split, row, chunk)] = hit
                    break
        return found

    def scan(self, index: str, split: str | None = None, batch: int = 2000) -> Iterator[Hit]:
        """Every chunk of the index (of one split), in row order: what an exhaustive grep reads."""
        opened = self._index(index)
        if opened is None:
            return
        opened.reload()
        searcher = opened.searcher()
        query = tantivy.Query.all_query() if split is None else tantivy.Query.term_query(self._schema, "split", split)
        offset = 0
        while True:
            found = searcher.search(query, batch, order_by_field="row", order=tantivy.Order.Asc, offset=offset).hits
            for _, address in found:
                yield _hit(index, searcher.doc(address), 0.0)
            if len(found) < batch:
                return
            offset += batch

    def count(self, index: str) -> int:
        opened = self._index(index)
        if opened is None:
            return 0
        opened.reload()
        return opened.searcher().num_docs

    def drop(self, index: str) -> None:
        with self._lock:
            self._open.pop(index, None)
            self._vectors.pop(index, None)
        shutil.rmtree(self._path(index), ignore_errors=True)

    def vector_files(self, index: str) -> VectorFiles:
        return VectorFiles(self._path(index))

    def vectors(self, index: str) -> StoredVectors | None:
        """The index's vectors, loaded once: ask only once they are complete (they do not change after)."""
        with self._lock:
            if (loaded := self._vectors.get(index)) is not None:
                return loaded
        loaded = self.vector_files(index).load()
        if loaded is not None:
            with self._lock:
                self._vectors[index] = loaded
        return loaded
