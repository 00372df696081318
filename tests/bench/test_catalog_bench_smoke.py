"""The catalog benchmark runs end to end on a few repos and a small file and leaves no database behind.

Only that it works is checked; its figures depend on the machine and are never asserted.
"""

from __future__ import annotations

import shutil

import pytest

from bench import catalog
from bench.events import is_local_database
from tests.bench.test_bench_smoke import _bench_databases


async def test_catalog_benchmark_measures_http_and_sql_and_cleans_up(
    postgres_server_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not is_local_database(postgres_server_url):
        pytest.skip("the benchmark only runs against PostgreSQL on this machine")
    before = await _bench_databases(postgres_server_url)

    code = await catalog.amain(
        ["--repos", "3000", "--requests", "10", "--warmup", "2", "--repeats", "3", "--page-size", "20",
         "--transfer-mb", "3", "--database-url", postgres_server_url]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0, out
    assert "3,000 repos loaded with COPY, indexed and analyzed" in out
    for scenario in ("default order", "sort=lastModified", "search", "filter", "author", "author, sort=lastModified"):
        for depth in ("first page", "deep page"):
            assert f"{scenario}, {depth}" in out, out
    rows = [line.split()[:2] for line in out.splitlines()]
    assert sum(1 for r in rows if r[:1] == ["sql"]) == 13, out  # a baseline beside every scenario
    assert "repo_info" in out
    assert "listing p99 over HTTP, worst scenario:" in out
    assert "peak RSS: catalog server" in out
    for path in ("file copy", "upload", "download"):  # each beside the copy, with the verdict on the medians
        assert any(line.startswith(path) and line.endswith("%") for line in out.splitlines()), out
    assert "upload rate / file copy rate (medians):" in out
    assert "download rate / file copy rate (medians):" in out
    assert "catalog RSS rise during a transfer, worst:" in out
    assert "catalog CPU per GB (user+system" in out
    assert "client (this process) CPU per GB, the same way: upload " in out
    assert await _bench_databases(postgres_server_url) <= before


async def test_catalog_benchmark_transfer_only_loads_no_repos(
    postgres_server_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not is_local_database(postgres_server_url):
        pytest.skip("the benchmark only runs against PostgreSQL on this machine")
    code = await catalog.amain(
        ["--transfer-only", "--transfer-mb", "2", "--repeats", "3", "--database-url", postgres_server_url]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "repos loaded" not in out
    assert "listing p99" not in out
    assert "transfer of one 2 MB file, 3 rounds" in out
    assert "upload rate / file copy rate (medians):" in out
    assert any(line.startswith("sha256, 1 core ") for line in out.splitlines()), out  # the bound on uploads
    if shutil.which("curl") is not None:  # the cross-check with a plain C client: both directions, every round
        rows = [line.split()[:2] for line in out.splitlines()]
        assert ["upload,", "curl"] in rows, out
        assert ["download,", "curl"] in rows, out
        # ...and the catalog's serving rate, the client writing nothing: a rate beside the copy's, counted bytes
        assert any(line.startswith("download, curl, discarded ") and line.endswith("%") for line in out.splitlines())
