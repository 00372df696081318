"""The chunk writer gives back the index-file pages that tantivy's merges map (services/ingest/mapped_pages.py)."""

from __future__ import annotations

import mmap
import threading
from pathlib import Path

import pytest

from services.ingest.chunk_store import TantivyStore
from services.ingest.chunking import Chunk
from services.ingest.mapped_pages import MergedPages, index_mappings

linux_only = pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux's /proc")


def _resident_kb(start: int) -> int:
    """Rss of this process's mapping that starts at `start`, from /proc/self/smaps."""
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1].isdigit() or line[:1] in "abcdef":
            inside = int(line.split("-", 1)[0], 16) == start
        elif inside and line.startswith("Rss:"):
            return int(line.split()[1])
    raise AssertionError("mapping not found")


def test_only_read_only_shared_maps_of_files_under_the_index_are_picked(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    index.mkdir()
    maps = tmp_path / "maps"
    maps.write_text(
        f"1000-3000 r--s 00000000 fe:00 11 {index}/a.store\n"
        f"3000-4000 r--p 00000000 fe:00 12 {index}/b.idx\n"  # private: never advised
        f"4000-5000 r--s 00000000 fe:00 13 {tmp_path}/idx2/c.store\n"  # a sibling whose name starts alike
        f"5000-6000 rw-p 00000000 00:00 0\n"  # anonymous heap
        f"6000-8000 r--s 00000000 fe:00 14 {index}/d.pos (deleted)\n"  # merged away, still mapped
    )
    assert index_mappings(index, maps) == [(0x1000, 0x3000), (0x6000, 0x8000)]
    assert index_mappings(index, tmp_path / "missing") == []


@linux_only
def test_release_frees_the_resident_pages_of_a_mapped_index_file(tmp_path: Path) -> None:
    size = 16 * 1024 * 1024
    path = tmp_path / "segment.store"
    path.write_bytes(b"x" * size)
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        start = next(s for s, _ in index_mappings(tmp_path))
        checksum = sum(mapped[i] for i in range(0, size, 4096))  # touch every page, as a merge reads
        assert _resident_kb(start) >= size // 1024 * 0.9
        assert MergedPages(tmp_path).release() >= size
        assert _resident_kb(start) < size // 1024 // 4
        assert sum(mapped[i] for i in range(0, size, 4096)) == checksum  # the file reads the same after


def test_a_chunk_writer_gives_pages_back_while_it_is_open(tmp_path: Path) -> None:
    def sweeping() -> int:
        return sum(t.name == "index-pages" for t in threading.enumerate())

    store = TantivyStore(tmp_path)
    before = sweeping()
    writer = store.writer("source/run")
    try:
        writer.add("u0", [Chunk("train", i, 0, f"row {i}") for i in range(10)])
        writer.commit()
        if Path("/proc/self/maps").exists():
            assert sweeping() == before + 1
    finally:
        writer.close()
    assert sweeping() == before
    assert store.count("source/run") == 10
