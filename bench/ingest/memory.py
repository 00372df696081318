"""Peak memory of a benchmark phase's process: its peak RSS, and the anonymous part of it.

Peak RSS (`ru_maxrss`) counts every resident page mapped into the process, including the index files
tantivy reads through `mmap` while it merges segments: page cache the kernel drops when memory is
short, which grows with the index. The anonymous part (heap: Python objects, arrow buffers, tantivy's
indexing arena) is what the process really holds; it is sampled from /proc (Linux) every `every`
seconds, so a peak shorter than that may be missed.
"""

from __future__ import annotations

import resource
import threading
from pathlib import Path

STATUS = Path("/proc/self/status")


def anonymous_mb() -> float | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class PeakMemory:
    """Samples the anonymous RSS in a thread while the block runs."""

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.peak_anonymous_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak_anonymous_mb = max(self.peak_anonymous_mb, anonymous_mb() or 0.0)
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def as_json(self) -> dict:
        return {
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_anon_mb": self.peak_anonymous_mb,
        }
