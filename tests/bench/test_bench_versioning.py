"""The versioning benchmark runs end to end on the test PostgreSQL and drops its database.

Only that it works is checked; its figures depend on the machine and are never asserted.
"""

from __future__ import annotations

import re

import asyncpg
import pytest

from bench import versioning
from bench.events import is_local_database


async def _bench_databases(server_url: str) -> set[str]:
    conn = await asyncpg.connect(server_url)
    try:
        return {
            r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'")
        }
    finally:
        await conn.close()


async def test_versioning_benchmark_prints_every_phase_and_cleans_up(
    postgres_server_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not is_local_database(postgres_server_url):
        pytest.skip("the benchmark only runs against a PostgreSQL on this machine")
    before = await _bench_databases(postgres_server_url)
    code = await versioning.amain(
        ["--sizes", "600,1500", "--bulk", "500", "--delta", "50", "--reads", "20", "--repeat", "3",
         "--database-url", postgres_server_url]
    )  # fmt: skip
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out
    [own] = re.findall(r"database (bench_\w+) \(dropped at the end\)", captured.err)
    for phase in (
        "bulk upsert (apply_delta",
        "baseline: asyncpg COPY",
        "version after +50 / -50 at 600",
        "version after +50 / -50 at 1,500",
        "baseline: full member list per version at 1,500",
        "page 1 of version 1",
        "bulk upsert / COPY:",
        "peak RSS",
    ):
        assert phase in out, out
    assert "(n=3," in out
    # Other worktrees' benchmarks share this server: only this run's own database must be gone.
    assert own not in await _bench_databases(postgres_server_url)
    assert own not in before
