"""Retention: what is past its window goes, in batches; what is inside stays; unpublished rows never go."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from contracts.ingest import IndexRequested
from contracts.topics import CATALOG_IDENTITY, CATALOG_REPOS, INGEST_REQUESTS
from services.runtime import inbox
from services.runtime.outbox import MARK, Outbox
from services.runtime.retention import Pruner, RetentionPolicy, table_stats
from services.runtime.settings import InfraSettings
from tests.conftest import wait_until
from tests.runtime.conftest import SCHEMA

HOUR = 3600.0
DAY = 24 * HOUR
WORKER = "ingest-worker"  # reads hubstream.ingest.requests: default retention, so a finite window
REPOS = "ingest-repos"  # reads hubstream.catalog.repos, kept for good


async def add_events(pool: asyncpg.Pool, count: int) -> list[int]:
    outbox = Outbox(schema=SCHEMA, source="/hubstream/test")
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, *(IndexRequested(source_id=uuid.uuid4(), dataset=f"o/d{i}") for i in range(count)))
    return [r["id"] for r in await pool.fetch("SELECT id FROM outbox ORDER BY id DESC LIMIT $1", count)]


async def age_outbox(pool: asyncpg.Pool, ids: list[int], *, created: float, published: float | None) -> None:
    """Date rows back; `published` set: publish them first, as the relay does (it moves them out of `outbox`)."""
    await pool.execute(
        "UPDATE outbox SET created_at = now() - make_interval(secs => $2) WHERE id = ANY($1::bigint[])", ids, created
    )
    if published is None:
        return
    await pool.execute(MARK, ids)
    await pool.execute(
        "UPDATE outbox_published SET published_at = now() - make_interval(secs => $2) WHERE id = ANY($1::bigint[])",
        ids,
        published,
    )


async def handled(pool: asyncpg.Pool, group: str, age: float) -> str:
    """An inbox entry of `group` handled `age` seconds ago; returns its event id."""
    event_id = str(uuid.uuid4())
    async with pool.acquire() as conn, conn.transaction():
        assert await inbox.claim(conn, group, "/hubstream/test", event_id)
        await conn.execute(
            "UPDATE inbox SET handled_at = now() - make_interval(secs => $2) WHERE event_id = $1", event_id, age
        )
    return event_id


async def claim_again(pool: asyncpg.Pool, group: str, event_id: str) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        return await inbox.claim(conn, group, "/hubstream/test", event_id)


def test_inbox_windows_follow_the_topics_retention() -> None:
    policy = RetentionPolicy.from_settings(InfraSettings(outbox_retention_seconds=HOUR))
    # 7 days of retention plus a 7-day segment: the longest a request can still be delivered.
    assert INGEST_REQUESTS.redelivery_seconds == 14 * DAY
    assert policy.inbox_by_group[WORKER] == 14 * DAY
    # Topics kept for good (retention -1, compaction) never let their groups' entries go.
    assert CATALOG_REPOS.redelivery_seconds is None
    assert CATALOG_IDENTITY.redelivery_seconds is None
    assert REPOS not in policy.inbox_by_group
    assert policy.inbox_others is None
    overridden = RetentionPolicy.from_settings(InfraSettings(inbox_retention_seconds=HOUR))
    assert (overridden.inbox_by_group, overridden.inbox_others) == ({}, HOUR)


async def test_published_outbox_rows_past_the_window_go_in_batches_and_unpublished_never(pool: asyncpg.Pool) -> None:
    old = await add_events(pool, 5)
    await age_outbox(pool, old, created=3 * HOUR, published=2 * HOUR)
    recent = await add_events(pool, 2)
    await age_outbox(pool, recent, created=HOUR, published=10 * 60)
    stuck = await add_events(pool, 3)
    await age_outbox(pool, stuck, created=30 * DAY, published=None)

    pruner = Pruner(pool, SCHEMA, RetentionPolicy(outbox_seconds=HOUR), batch=2)
    pruned = await pruner.prune_once()
    assert pruned is not None
    assert (pruned.outbox, pruned.inbox) == (5, 0)
    assert {r["id"] for r in await pool.fetch("SELECT id FROM outbox_published")} == set(recent)
    assert {r["id"] for r in await pool.fetch("SELECT id FROM outbox")} == set(stuck)
    stats = {s.table: s for s in await table_stats(pool)}
    assert (stats["outbox_published"].pruned, stats["outbox"].pruned, stats["inbox"].pruned) == (5, 0, 0)
    assert stats["outbox_published"].bytes > 0
    assert stats["outbox"].bytes > 0


async def test_inbox_entries_go_once_their_topic_cannot_redeliver_and_dedup_holds_inside(pool: asyncpg.Pool) -> None:
    expired = await handled(pool, WORKER, 15 * DAY)
    kept = await handled(pool, WORKER, 13 * DAY)
    forever = await handled(pool, REPOS, 400 * DAY)
    unknown = await handled(pool, "someone-elses-group", 400 * DAY)

    policy = RetentionPolicy.from_settings(InfraSettings(outbox_retention_seconds=HOUR))
    pruned = await Pruner(pool, SCHEMA, policy).prune_once()
    assert pruned is not None
    assert pruned.inbox == 1
    # Inside the window a redelivered event is still recognised, so it has no second effect.
    assert not await claim_again(pool, WORKER, kept)
    assert not await claim_again(pool, REPOS, forever)
    assert not await claim_again(pool, "someone-elses-group", unknown)
    assert await claim_again(pool, WORKER, expired)  # gone: its topic can no longer deliver it
    assert {s.table: s.pruned for s in await table_stats(pool)}["inbox"] == 1


async def test_one_pruner_works_at_a_time(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        pruner = Pruner(pool, SCHEMA, RetentionPolicy(outbox_seconds=HOUR))
        assert await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", pruner.lock_name)
        assert await pruner.prune_once() is None


async def test_the_pruner_keeps_pruning_in_the_background(pool: asyncpg.Pool) -> None:
    stopping = asyncio.Event()
    pruner = Pruner(pool, SCHEMA, RetentionPolicy(outbox_seconds=HOUR), interval=0.1)
    task = asyncio.create_task(pruner.run(stopping))
    try:
        ids = await add_events(pool, 3)
        await age_outbox(pool, ids, created=3 * HOUR, published=2 * HOUR)

        async def emptied() -> bool:
            return await pool.fetchval("SELECT count(*) FROM outbox") == 0

        await wait_until(emptied, timeout=10)
    finally:
        stopping.set()
        await asyncio.wait_for(task, timeout=5)
