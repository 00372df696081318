"""The ingest benchmark runs end to end on a tiny corpus and prints every figure (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.ingest.semantic import semantic_installed

pytestmark = pytest.mark.infra


def test_the_ingest_benchmark_prints_its_phases_search_and_goals(postgres_server_url: str, tmp_path: Path) -> None:
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
            "--corpus-dir",  # not the state directory's kept corpus
            str(tmp_path / "corpus"),
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


def test_a_skipped_phase_leaves_its_goals_not_measured(postgres_server_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--rows", "3000", "--shard-rows", "3000", "--row-group-rows", "1000",
         "--rounds", "1", "--phases", "hubstream,direct", "--database-url", postgres_server_url,
         "--corpus-dir", str(tmp_path / "corpus")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    out = result.stdout
    assert "hubstream worker" in out, result.stderr[-3000:]
    assert "not run (--phases)" in out  # PostgreSQL's row
    goals = [line for line in out.splitlines() if line.startswith("goal: ")]
    # Measured: rows/s against (a) and the worker's RSS; not: PostgreSQL, search (2), hybrid, embedding.
    assert len(goals) == 7, out
    assert sum(": NOT MEASURED" in line for line in goals) == 5, out
    assert "search, top 10" not in out
    assert result.returncode in (0, 1), result.stderr[-3000:]


def test_phases_are_checked() -> None:
    from bench.ingest.cli import parse_args

    assert parse_args(["--phases", "direct,postgres"]).phases == ("direct", "postgres")
    for wrong in ("search", "hubstream,bogus"):
        with pytest.raises(SystemExit):
            parse_args(["--phases", wrong])
