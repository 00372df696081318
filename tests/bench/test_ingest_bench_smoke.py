"""The ingest benchmark runs end to end on a tiny corpus and prints every figure (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.ingest.semantic import semantic_installed

pytestmark = pytest.mark.infra


def test_the_ingest_benchmark_prints_its_phases_search_and_goals(postgres_server_url: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.ingest",
            "--rows",
            "6000",
            "--shard-rows",
            "3000",
            "--row-group-rows",
            "1000",
            "--rounds",
            "1",
            "--queries",
            "20",
            # With the `semantic` extra, the embedding rounds run the model on the CPU: a few parts, not the
            # default's 768 chunks (minutes on a busy machine); this test checks the figures print, not their size.
            "--embed-chunks",
            "128",
            "--database-url",
            postgres_server_url,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = result.stdout
    assert "6,000 rows" in out, result.stderr[-3000:]
    for line in (
        "hubstream worker",
        "(a) tantivy direct",
        "(b) PostgreSQL",
        "tantivy (hubstream)",
        "PostgreSQL FTS (b)",
        "hybrid search over 6,000 rows",
        "keyword p50",
    ):
        assert line in out, out
    assert "20 one common word queries ran" in result.stderr, result.stderr[-3000:]
    # Five keyword goals, hybrid p99, and the embedding rate when the `semantic` extra is installed.
    assert out.count("goal: ") == (7 if semantic_installed() else 6)
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1: a goal missed on this tiny corpus is no error
