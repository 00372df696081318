"""Fault injection: the relay process is killed (SIGKILL) while it publishes, and restarted.

Every event must reach the topic exactly once, whatever moment the kill hits.
The first kill is placed where recovery is needed: the test holds a row lock
that blocks the relay's mark, so its Kafka transaction has committed and its
rows are not marked when the process (and its database session) dies. The
successor must find them at the partitions' ends and mark them, and its log
says so ("published before a crash but not marked; marked them now, not sent
again"). The other kills land wherever the relay happens to be.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from contracts import decode
from contracts.ingest import IndexRequested
from contracts.topics import INGEST_REQUESTS
from services.registry import definition
from services.runtime import db, migrations
from services.runtime.outbox import Outbox
from tests.conftest import read_topic, wait_until

EVENTS = 20_000
KILLS = 3


def start_relay(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "relay", "ingest"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def published(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM outbox_published")


async def test_a_relay_killed_mid_publish_and_restarted_publishes_each_event_once(
    database_url: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    await migrations.migrate(database_url, "ingest", definition("ingest").migrations())
    outbox = Outbox(schema="ingest", source="/hubstream/ingest")
    async with db.pool_context(database_url, "ingest") as pool:
        for start in range(0, EVENTS, 1000):
            async with pool.acquire() as conn, conn.transaction():
                await outbox.add(
                    conn,
                    *(IndexRequested(source_id=uuid.uuid4(), dataset=f"o/d{i}") for i in range(start, start + 1000)),
                )

        env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSTREAM_")}
        env.update(
            HUBSTREAM_DATABASE_URL=database_url,
            HUBSTREAM_KAFKA=kafka_bootstrap,
            HUBSTREAM_TOPIC_PREFIX=topic_prefix,
            HUBSTREAM_HOME=str(tmp_path),
        )
        log = tmp_path / "relay.log"
        await kill_between_commit_and_mark(pool, env, log)
        for kill in range(2, KILLS + 1):
            relay = start_relay(env, log)
            target = EVENTS * kill // (KILLS + 1)

            async def reached(target: int = target) -> bool:
                return await published(pool) >= target

            await wait_until(reached, timeout=60, interval=0.005)
            relay.send_signal(signal.SIGKILL)  # no chance to finish the batch or release anything
            relay.wait()
        survivor = start_relay(env, log)
        try:

            async def all_published() -> bool:
                return await published(pool) == EVENTS

            await wait_until(all_published, timeout=60)
        finally:
            survivor.terminate()
            survivor.wait(30)
        expected = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM outbox_published")}
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0

    # Everything, then 1.5 s more so that any event sent twice shows.
    records = await read_topic(
        kafka_bootstrap, topic_prefix + INGEST_REQUESTS.name, expect=EVENTS, settle=1.5, timeout=60
    )
    ids = [decode(r.value).id for r in records]
    duplicates = len(ids) - len(set(ids))
    assert duplicates == 0, f"{duplicates} event(s) published twice; relay log:\n{log.read_text()[-3000:]}"
    assert set(ids) == expected
    # The takeover after the first kill had committed rows to recover, and did.
    recovered = [int(n) for n in RECOVERED.findall(log.read_text())]
    assert recovered, f"no takeover recovered rows; relay log:\n{log.read_text()[-3000:]}"


RECOVERED = re.compile(r"(\d+) event\(s\) were published before a crash but not marked")


async def kill_between_commit_and_mark(pool: asyncpg.Pool, env: dict[str, str], log: Path) -> None:
    """Start a relay and kill it, with its session, once a cycle is committed on Kafka and not yet marked."""
    blocker = await pool.acquire()
    try:
        async with blocker.transaction():
            # A row a few cycles in: the relay publishes and commits the cycle holding it, then waits here.
            await blocker.execute(
                "SELECT 1 FROM outbox WHERE id = (SELECT id FROM outbox ORDER BY id OFFSET $1 LIMIT 1) FOR UPDATE",
                EVENTS // (KILLS + 1),
            )
            relay = start_relay(env, log)

            async def marking_blocked() -> int | None:
                return await pool.fetchval(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE 'WITH moved AS (DELETE FROM outbox %'"
                )

            pid = await wait_until(marking_blocked, timeout=60, interval=0.01)
            relay.send_signal(signal.SIGKILL)
            relay.wait()
            # The process is gone; its session would still run the mark once the lock is free.
            await pool.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await pool.release(blocker)
