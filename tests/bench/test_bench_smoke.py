"""The event benchmark runs end to end on the test broker and PostgreSQL, and leaves nothing behind.

Only that it works is checked; its figures depend on the machine and are never asserted.
"""

from __future__ import annotations

import asyncpg
import pytest

from bench import events
from services.runtime.kafka import admin_context
from tests.conftest import wait_until


async def _bench_databases(server_url: str) -> set[str]:
    conn = await asyncpg.connect(server_url)
    try:
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'")
    finally:
        await conn.close()
    return {r["datname"] for r in rows}


async def _bench_topics(bootstrap: str) -> set[str]:
    async with admin_context(bootstrap) as admin:
        return {t for t in await admin.list_topics() if t.startswith("bench")}


async def test_benchmark_measures_both_paths_and_cleans_up(
    kafka_bootstrap: str, postgres_server_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The benchmark refuses servers off this machine (it saturates them); so does its test.
    if not (events.is_local_kafka(kafka_bootstrap) and events.is_local_database(postgres_server_url)):
        pytest.skip("the benchmark only runs against a broker and PostgreSQL on this machine")
    databases_before = await _bench_databases(postgres_server_url)
    topics_before = await _bench_topics(kafka_bootstrap)

    code = await events.amain(
        [
            "--events", "200",
            "--seconds", "2",
            "--rate", "50",
            "--warmup", "5",
            "--phase-timeout", "120",
            "--kafka", kafka_bootstrap,
            "--database-url", postgres_server_url,
        ]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0, out
    rows = [line.split()[:2] for line in out.splitlines()]
    assert ["raw", "saturation"] in rows, out
    assert ["hubstream", "drain"] in rows, out
    assert ["hubstream", "saturation+writers"] in rows, out
    for path in ("raw", "hubstream"):
        assert [path, "50/s"] in rows, out
    assert "hubstream drain/raw throughput" in out
    assert "hubstream with-writers/raw throughput" in out
    assert "peak RSS" in out
    # The consumer's instrumentation hooks private steps of EventConsumer: it must still find them.
    assert "consumer: no records" not in out, out
    assert "records settled one by one" in out, out

    # Its own database is dropped and its topics deleted (topic deletion completes asynchronously).
    assert await _bench_databases(postgres_server_url) <= databases_before

    async def topics_gone() -> bool:
        return await _bench_topics(kafka_bootstrap) <= topics_before

    await wait_until(topics_gone, timeout=30)
