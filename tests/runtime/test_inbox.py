"""The inbox's batch claim: new events are claimed, duplicates (handled before, or twice in one batch) are not,
and the caller's transaction goes on either way."""

from __future__ import annotations

import asyncpg

from services.runtime import inbox

SOURCE = "/hubstream/test"


async def claimed(pool: asyncpg.Pool, group: str) -> list[str]:
    return [r["event_id"] for r in await pool.fetch("SELECT event_id FROM inbox WHERE consumer = $1", group)]


async def test_a_batch_of_new_events_is_claimed_whole(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        assert await inbox.claim_many(conn, "g", [(SOURCE, "a"), (SOURCE, "b"), ("/other", "a")]) == [True] * 3
    assert sorted(await claimed(pool, "g")) == ["a", "a", "b"]


async def test_a_batch_with_duplicates_claims_only_the_new_events_and_the_transaction_goes_on(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        assert await inbox.claim_many(conn, "g", [(SOURCE, "old")]) == [True]
    async with pool.acquire() as conn, conn.transaction():
        batch = [(SOURCE, "new-1"), (SOURCE, "old"), (SOURCE, "new-2"), (SOURCE, "new-1")]
        assert await inbox.claim_many(conn, "g", batch) == [True, False, True, False]
        # The failed first attempt did not abort the caller's transaction: its effect still commits.
        await conn.execute("INSERT INTO effects (dataset) VALUES ('after the claim')")
    assert sorted(await claimed(pool, "g")) == ["new-1", "new-2", "old"]
    assert await pool.fetchval("SELECT count(*) FROM effects") == 1


async def test_another_consumer_claims_the_same_events_for_itself(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        assert await inbox.claim_many(conn, "g1", [(SOURCE, "e")]) == [True]
        assert await inbox.claim_many(conn, "g2", [(SOURCE, "e")]) == [True]
        assert await inbox.claim(conn, "g1", SOURCE, "e") is False
