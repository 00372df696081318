"""Keep what a chunk writer no longer needs from piling up in the worker's memory.

Two kinds of it: index-file pages that tantivy's merges mapped (`MergedPages`), and heap that was
freed but is still held by the C allocator (`give_back_freed_heap`).

tantivy reads segments through read-only shared memory maps. While a writer merges segments (in
background threads, after commits), it reads every source segment from start to end, and each page
it touches stays mapped, hence resident and counted in the worker's RSS, until the merge ends and
the old segments are unmapped. At 2M rows of ~750 characters the default merge policy (which
tantivy's Python binding does not let us change) merges up to 1.6M rows at once: about 1.2 GB of
files mapped at the end of the merge, on top of the heap, for a worker whose whole budget is 500 MB.

While a writer is open, `MergedPages` asks the kernel every `every` seconds to page out what is
mapped of the index's files (`madvise(MADV_PAGEOUT)`, Linux ≥ 5.4). These pages are clean (tantivy
never writes through its maps: a segment is written once, with plain writes, then only read), so
the kernel frees them at once, without I/O; a page that is read again later comes back from disk.
A merge reads its sources once, in order, so little is read twice. The pages are really given
back, not moved elsewhere: MADV_PAGEOUT reclaims a page only when no other process maps it, and
it never changes what a page holds (it is safe even on a range that was unmapped and reused in
the meantime), unlike MADV_DONTNEED. Elsewhere (not Linux, an old kernel) it does nothing.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MADV_PAGEOUT = 21  # linux/mman.h
MAPS = Path("/proc/self/maps")
# What piles up between two sweeps is what a merge reads meanwhile, and a merge reads segments that were
# just written (in the page cache) at memory speed: a 2M-row run's peak had 72 MB of index pages mapped at
# 0.25 s on a loaded machine, ~100 MB at 0.1 s on a quiet one. A sweep reads /proc/self/maps: ~1 ms.
EVERY_SECONDS = 0.05


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # glibc's; other C libraries have none
    except (AttributeError, OSError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def give_back_freed_heap() -> None:
    """Return to the system the heap that is free but still held by glibc's allocator (called after a commit).

    After a commit, the indexing arena of the segment just written and the unit's rows are freed, but
    glibc keeps freed memory in the arena of the thread that freed it (tantivy's indexing, merging
    and compressing threads each have one, so does the fsspec I/O thread), and reuses little of it
    across threads: the heap the worker held grew from one unit to the next. `malloc_trim` takes a
    few milliseconds once per unit (a row group: seconds of work).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _madvise() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


def index_mappings(directory: Path, maps: Path = MAPS) -> list[tuple[int, int]]:
    """(start, end) of this process's read-only shared maps of files under `directory`."""
    prefix = f"{directory.resolve()}/"
    found = []
    try:
        lines = maps.read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        # address perms offset dev inode path: "7f..-7f.. r--s 00000000 fe:00 1234 /idx/abc.store"
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[1] == "r--s" and fields[5].startswith(prefix):
            start, _, end = fields[0].partition("-")
            found.append((int(start, 16), int(end, 16)))
    return found


class MergedPages:
    """Pages out, every `every` seconds from `start` to `stop`, what this process maps of the index in `directory`."""

    def __init__(self, directory: Path, every: float = EVERY_SECONDS) -> None:
        self.directory = directory
        self.every = every
        self._madvise = _madvise()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def release(self) -> int:
        """Page out the index's mapped files once; returns the bytes of mappings advised."""
        if self._madvise is None:
            return 0
        advised = 0
        for start, end in index_mappings(self.directory):
            if self._madvise(start, end - start, MADV_PAGEOUT) == 0:
                advised += end - start
            elif ctypes.get_errno() == errno.EINVAL:
                # The kernel does not know MADV_PAGEOUT (before 5.4): nothing to do here, ever.
                log.info("this kernel cannot page out mapped index files; merges count in the worker's RSS")
                self._madvise = None
                return advised
            # ENOMEM: the segment was unmapped since /proc was read (merged away): nothing left to give back.
        return advised

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.release()

    def start(self) -> None:
        if self._madvise is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="index-pages", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> MergedPages:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
