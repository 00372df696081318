"""Peak memory of a benchmark phase's own process: its peak RSS, and what that RSS was made of.

Peak RSS is the kernel's high-water mark of this process's resident pages (`VmHWM` in
/proc/self/status). Not `getrusage(RUSAGE_SELF).ru_maxrss`: Linux carries that figure across
`execve`, and Python's subprocess spawns with vfork, so a phase started by the benchmark's own
process (which holds the corpus it wrote, PostgreSQL's rows, ...) reported that parent's peak when
it was the larger one: the worker and the direct load once both showed the bench's 666 MB.
`VmHWM` belongs to the address space the process got at exec, so it is this process's alone,
from its start (interpreter, imports) to the moment it is read: the whole process, not the phase.

RSS counts two kinds of page: anonymous ones (heap: Python objects, arrow buffers, tantivy's
indexing arena), which the process really holds, and file-backed ones (the index files tantivy
reads through `mmap` while it merges segments, shared libraries), page cache the kernel may drop
when memory is short. They are sampled from /proc every `every` seconds, so the composition is
known at the sampled peak; a peak shorter than `every` is in VmHWM but not in the samples.
"""

from __future__ import annotations

import resource
import threading
from dataclasses import dataclass
from pathlib import Path

STATUS = Path("/proc/self/status")


@dataclass(frozen=True)
class Resident:
    """Resident memory now, in MB, from /proc/self/status (zeros where a line is missing)."""

    rss: float = 0.0
    anonymous: float = 0.0
    file: float = 0.0
    high_water: float = 0.0  # the process's peak RSS since it started (VmHWM)


def resident(status: Path = STATUS) -> Resident | None:
    """None where /proc is not there (not Linux)."""
    try:
        lines = status.read_text().splitlines()
    except OSError:
        return None
    fields = {"VmRSS": "rss", "RssAnon": "anonymous", "RssFile": "file", "VmHWM": "high_water"}
    found: dict[str, float] = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in fields:
            found[fields[key]] = int(value.split()[0]) / 1024
    return Resident(**found)


class PeakMemory:
    """Samples the process's resident memory in a thread while the block runs."""

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.peak_anonymous_mb = 0.0
        self.peak_file_mb = 0.0
        self.at_peak = Resident()  # the sample with the largest RSS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)

    def _sample(self) -> None:
        while True:
            now = resident()
            if now is not None:
                self.peak_anonymous_mb = max(self.peak_anonymous_mb, now.anonymous)
                self.peak_file_mb = max(self.peak_file_mb, now.file)
                if now.rss >= self.at_peak.rss:
                    self.at_peak = now
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def as_json(self) -> dict:
        now = resident()
        # Without /proc, ru_maxrss (kilobytes on Linux) is the only peak there is: it may include the parent's.
        peak = now.high_water if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {
            "peak_rss_mb": peak,
            "peak_anon_mb": self.peak_anonymous_mb,
            "peak_file_mb": self.peak_file_mb,
            "at_peak_anon_mb": self.at_peak.anonymous,
            "at_peak_file_mb": self.at_peak.file,
        }
