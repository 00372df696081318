"""The ingest benchmark's peak RSS is the measured process's own, not its parent's (bench/ingest/memory.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import orjson
import pytest

from bench.ingest import corpus, memory

# A parent holding 300 MB starts a child that holds little: the child's peak must be its own. On Linux,
# getrusage's ru_maxrss carries the parent's peak across the child's exec (subprocess spawns with vfork).
PARENT = textwrap.dedent(
    """
    import subprocess, sys
    held = bytearray(300 * 1024 * 1024)
    for i in range(0, len(held), 4096):
        held[i] = 1  # resident, not just reserved
    child = "from bench.ingest.memory import PeakMemory; import orjson\\n" \\
        "with PeakMemory() as m: pass\\nprint(orjson.dumps(m.as_json()).decode())"
    print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout)
    """
)


@pytest.mark.skipif(memory.resident() is None, reason="needs Linux's /proc")
def test_a_phase_reports_its_own_peak_not_the_one_of_the_process_that_started_it() -> None:
    out = subprocess.run([sys.executable, "-c", PARENT], capture_output=True, text=True, check=True, timeout=120)
    figures = orjson.loads(out.stdout.strip())
    assert figures["peak_rss_mb"] < 200, figures  # the child is an interpreter and two imports, well under 300 MB
    assert 0 < figures["peak_anon_mb"] <= figures["peak_rss_mb"]
    assert figures["peak_file_mb"] > 0


def test_resident_reads_the_status_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   71680 kB\n"
                      "RssFile:\t   30720 kB\nThreads:\t3\n")  # fmt: skip
    assert memory.resident(status) == memory.Resident(rss=100.0, anonymous=70.0, file=30.0, high_water=200.0)
    assert memory.resident(tmp_path / "missing") is None


def test_a_kept_corpus_folder_is_named_for_what_makes_it() -> None:
    names = {corpus.folder_name(2_000_000, 250_000, 50_000), corpus.folder_name(2_000_000, 250_000, 10_000),
             corpus.folder_name(200_000, 250_000, 50_000)}  # fmt: skip
    assert len(names) == 3
    assert f"v{corpus.VERSION}" in corpus.folder_name(1, 1, 1)
