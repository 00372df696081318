"""The event benchmark runs end to end on the test broker and PostgreSQL, and leaves nothing behind.

Only that it works is checked; its figures depend on the machine and are never asserted.
"""

from __future__ import annotations

import re

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
    # The table's rows: the notes under it are indented.
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines() if line[:1].isalpha()}
    phases = [("raw", "saturation"), ("hubstream", "drain"), ("hubstream", "saturation+writers")]
    phases += [("raw", "50/s"), ("hubstream", "50/s")]
    for phase in phases:
        assert phase in rows, out
    # Every phase ran in each of the 3 rounds (the third column); events/s as median (min-max).
    assert all(rows[phase][0] == "3" for phase in phases if phase[1] != "50/s"), out
    assert "(min-max)" in out
    # What this process's CPU per event allows, for both goals against raw.
    for phase in ("drain", "saturation+writers"):
        bound = rf"^{re.escape(phase)} CPU bound \(medians\): this process used \d+ µs per event"
        assert re.search(bound, out, re.M), out
    assert "hubstream drain/raw throughput" in out
    assert "hubstream with-writers/raw throughput" in out
    assert "peak RSS" in out
    # The consumer's instrumentation hooks private steps of EventConsumer: it must still find them.
    assert "consumer: no records" not in out, out
    assert "records settled one by one" in out, out
    assert "handler->inbox commit" in out, out  # hubstream's events count once their inbox transaction committed

    # Its own database is dropped and its topics deleted (topic deletion completes asynchronously). Only its
    # own: other runs may share the servers.
    [(database, prefix)] = re.findall(r"this run's database (\S+) and topics (\S+)\* are removed", out)
    assert database.startswith("bench_")
    assert prefix.startswith("bench")
    assert database not in await _bench_databases(postgres_server_url)

    async def topics_gone() -> bool:
        return not any(t.startswith(prefix) for t in await _bench_topics(kafka_bootstrap))

    await wait_until(topics_gone, timeout=30)
