"""An unlike racing the deletion of its repo: a clear 404 or done, never a deadlock.

The unlike removed its like row and then waited for the repo's row; the deletion held the repo's row and then
waited for the like rows it cascades to. Here the deletion holds the repo while the unlike is seen waiting for
a lock, and only then deletes: what the old order turned into a deadlock every time.
"""

from __future__ import annotations

import asyncio

from services.catalog import store_listing
from tests.catalog.conftest import Catalog
from tests.conftest import wait_until


async def test_an_unlike_while_the_repo_is_deleted_gets_a_404_not_a_deadlock(catalog: Catalog) -> None:
    token = await catalog.user("alice")
    status, _, created = await catalog.call("POST", "/api/repos/create", token=token, json={"name": "liked"})
    assert status == 200, created
    status, _, _ = await catalog.call("POST", "/api/models/alice/liked/like", token=token)
    assert status == 200
    async with catalog.pool.acquire() as conn, conn.transaction():
        repo = await store_listing.repo_for_update(conn, "model", "alice", "liked")  # as a deletion starts
        unlike = asyncio.create_task(catalog.call("DELETE", "/api/models/alice/liked/like", token=token))

        async def unlike_waits() -> bool:
            return bool(
                await conn.fetchval(
                    """SELECT count(*) FROM pg_stat_activity
                       WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"""
                )
            )

        await wait_until(unlike_waits, interval=0.01)
        await store_listing.delete_repo(conn, repo["id"])  # cascades to the repo's likes
    status, headers, body = await asyncio.wait_for(unlike, 30)
    assert (status, headers["X-Error-Code"]) == (404, "RepoNotFound"), body
    assert await catalog.pool.fetchval("SELECT count(*) FROM repo_likes") == 0
