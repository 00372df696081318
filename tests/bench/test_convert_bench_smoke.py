"""The conversion benchmark runs end to end on a small file; only that it works is checked, never its figures."""

from __future__ import annotations

import pytest

from bench import convert


def test_convert_benchmark_prints_both_phases(capsys: pytest.CaptureFixture[str]) -> None:
    assert convert.main(["--mb", "2", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for phase in ("ours", "baseline"):
        row = next(line.split() for line in out.splitlines() if line.split()[:1] == [phase])
        assert float(row[1]) > 0, out  # rows/s
    assert "ours / baseline throughput:" in out
