"""The mirror benchmark runs end to end on a few repos and a small file, and leaves no database behind.

Only that it works is checked; its figures depend on the machine and are never asserted.
"""

from __future__ import annotations

import pytest

from bench.events import is_local_database
from bench.mirror import cli
from tests.bench.test_bench_smoke import _bench_databases


async def test_mirror_benchmark_syncs_downloads_and_cleans_up(
    postgres_server_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not is_local_database(postgres_server_url):
        pytest.skip("the benchmark only runs against PostgreSQL on this machine")
    before = await _bench_databases(postgres_server_url)

    code = await cli.amain(
        ["--repos", "40", "--changed", "0.1", "--file-mb", "3", "--repeats", "1", "--database-url", postgres_server_url]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert "mirror sync of 40 repos" in out
    assert "incremental, 5 changed" in out  # every 10th of the 41 repos (the 40 and the big file's)
    for line in ("full sync", "baseline: fetch only", "first download", "cached download", "plain copy"):
        assert line in out, out
    assert await _bench_databases(postgres_server_url) <= before
