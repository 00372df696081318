"""Two changes to two collections of one owner, in flight together: both apply, neither deadlocks.

A delete renumbers the owner's other collections, and so does a move (`position`). Each first locked the
collection it changes and then all of the owner's: two of them, on two collections, each held one lock and
waited for the other, and PostgreSQL aborted one (a 500). Here the two transactions are driven step by step
with the catalog's own functions, so the interleaving that deadlocked happens every time.
"""

from __future__ import annotations

import asyncio
import contextlib

from services.catalog import collections, store_collections
from services.runtime.auth import Principal
from tests.catalog.conftest import Catalog


async def test_a_delete_and_a_move_of_two_collections_of_one_owner_both_apply(catalog: Catalog) -> None:
    token = await catalog.user("alice")
    slugs = []
    for title in ("one", "two", "three", "four"):
        status, _, body = await catalog.call(
            "POST", "/api/collections", token=token, json={"title": title, "namespace": "alice"}
        )
        assert status == 200, body
        slugs.append(body["slug"].split("/", 1)[1])
    alice = Principal(user="alice", token_id="t", role="write")
    first_locked = asyncio.Event()

    async def delete_first() -> None:
        async with catalog.pool.acquire() as conn, conn.transaction():
            row = await collections.writable(conn, alice, "alice", slugs[0])
            first_locked.set()
            # Give the other change the time to lock its own collection, as it could before the fix.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.Event().wait(), 0.5)
            await store_collections.delete_collection(conn, row["id"])

    async def move_last_to_the_front() -> None:
        await first_locked.wait()
        async with catalog.pool.acquire() as conn, conn.transaction():
            row = await collections.writable(conn, alice, "alice", slugs[3])
            ids = await store_collections.owner_collection_ids(conn, "alice")
            await store_collections.set_collection_positions(conn, collections.moved(ids, row["id"], 0))

    async with asyncio.timeout(30):
        await asyncio.gather(delete_first(), move_last_to_the_front())
    rows = await catalog.pool.fetch("SELECT title, position FROM collections WHERE owner = 'alice' ORDER BY position")
    assert [(r["title"], r["position"]) for r in rows] == [("four", 0), ("two", 1), ("three", 2)]
