"""The catalog worker (`hubstream worker catalog`): it takes mirror sync requests and runs them.

The `catalog-mirror` consumer records each `MirrorSyncRequested` on the mirror's row (once, through the
inbox); the runner, a loop beside it, claims requested syncs (and schedules `--every` ones by publishing a
request of its own), runs each, and ends it with `MirrorSyncCompleted` or `MirrorSyncFailed` in the
transaction that records the outcome. A sync can take long (100,000 repos): it runs outside the consumer,
so the consumer never stalls its partition; a worker that dies mid-sync stops beating, and another one (or
the same after a restart) takes the sync over.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import aiohttp
import asyncpg
from cryptography.fernet import Fernet

from contracts.mirror import MirrorSyncCompleted, MirrorSyncCounts, MirrorSyncFailed, MirrorSyncRequested
from services.catalog import store_mirror
from services.catalog.mirror_sync import SyncOutcome, sync_mirror
from services.catalog.mirror_tokens import TokenUnreadable, open_tokens, unseal
from services.catalog.mirror_upstream import Retry, Upstream
from services.runtime.consumer import EventConsumer, Received
from services.runtime.deps import Background, Deps
from services.runtime.outbox import Outbox

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0
HEARTBEAT_SECONDS = 2.0


async def on_sync_requested(message: Received[MirrorSyncRequested], conn: asyncpg.Connection) -> None:
    if not await store_mirror.mark_requested(conn, message.data.mirror, message.data.sync_id):
        log.info("mirror %s: a sync is running or the mirror is gone; request %s is met by it",
                 message.data.mirror, message.data.sync_id)  # fmt: skip


async def request_sync(conn: asyncpg.Connection, outbox: Outbox, name: str, upstream_url: str) -> str:
    """Ask for a sync of mirror `name` (in the caller's transaction): the event, published by the relay."""
    sync_id = uuid.uuid4().hex
    await outbox.add(conn, MirrorSyncRequested(mirror=name, sync_id=sync_id, upstream_url=upstream_url))
    return sync_id


@dataclass
class SyncRunner:
    """Claims and runs requested syncs, one at a time per worker; starts scheduled ones."""

    pool: asyncpg.Pool
    outbox: Outbox
    home: Path  # the state dir: its secrets key opens the mirrors' sealed upstream tokens (mirror_tokens.py)
    retry: Retry = field(default_factory=Retry)
    group: str = "catalog-mirror-runner"
    tokens: Fernet | None = field(default=None, init=False)

    async def prepare(self) -> Fernet:
        """The secrets key, read (made if need be) once; tokens an earlier version kept in plain text are sealed
        with it then. At the start of `run`, not when the worker is put together: that touches no database."""
        if self.tokens is None:
            self.tokens = await open_tokens(self.pool, self.home)
        return self.tokens

    async def run(self, stopping: asyncio.Event) -> None:
        await self.prepare()
        async with aiohttp.ClientSession() as session:
            while not stopping.is_set():
                await self.schedule()
                if not await self.run_one(session):
                    with suppress(TimeoutError):
                        await asyncio.wait_for(stopping.wait(), IDLE_SECONDS)

    async def schedule(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            for due in await store_mirror.due_scheduled(conn):
                sync_id = await request_sync(conn, self.outbox, due["name"], due["upstream_url"])
                # Marked here too, so the next round does not schedule it again before the event comes back.
                await store_mirror.mark_requested(conn, due["name"], sync_id)

    async def run_one(self, session: aiohttp.ClientSession) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            mirror = await store_mirror.claim_sync(conn)
        if mirror is None:
            return False
        name, sync_id = mirror["name"], mirror["sync_id"] or uuid.uuid4().hex
        log.info("mirror %s: sync %s from %s started", name, sync_id, mirror["upstream_url"])
        try:
            token = unseal(await self.prepare(), mirror["token_sealed"], name)
        except TokenUnreadable as exc:
            outcome = SyncOutcome(errors=[str(exc)])
        else:
            outcome = await self._sync(mirror, Upstream(session, mirror["upstream_url"], token, self.retry))
        counts = MirrorSyncCounts(**outcome.counts)
        async with self.pool.acquire() as conn, conn.transaction():
            await store_mirror.finish_sync(
                conn,
                name,
                ok=outcome.ok,
                counts=outcome.counts,
                changes=outcome.changes,
                error=outcome.error_text(),
                reachable=outcome.reachable,
            )
            if outcome.ok:
                await self.outbox.add(conn, MirrorSyncCompleted(mirror=name, sync_id=sync_id, counts=counts))
            else:
                error = outcome.error_text() or "failed"
                await self.outbox.add(conn, MirrorSyncFailed(mirror=name, sync_id=sync_id, counts=counts, error=error))
        log.info("mirror %s: sync %s %s: %s%s", name, sync_id, "completed" if outcome.ok else "failed",
                 outcome.counts, f" - {outcome.error_text()}" if not outcome.ok else "")  # fmt: skip
        return True

    async def _sync(self, mirror: asyncpg.Record, upstream: Upstream) -> SyncOutcome:
        name = mirror["name"]
        progress = partial(store_mirror.heartbeat, self.pool, name)
        beat = asyncio.create_task(self._beat(name))
        try:
            return await sync_mirror(self.pool, self.outbox, mirror, upstream, progress)
        finally:
            beat.cancel()
            with suppress(asyncio.CancelledError):
                await beat

    async def _beat(self, name: str) -> None:
        """Keeps the claim alive while a single slow repo holds the progress counter still."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await self.pool.execute("UPDATE mirrors SET heartbeat_at = now() WHERE name = $1", name)


@asynccontextmanager
async def worker_consumers(deps: Deps) -> AsyncIterator[list[Background]]:
    requests = deps.consumer("catalog-mirror")
    requests.on(MirrorSyncRequested, on_sync_requested)
    consumers: list[Background] = [requests, SyncRunner(deps.pool, deps.outbox, deps.config.infra.home)]
    yield consumers


__all__ = ["EventConsumer", "SyncRunner", "request_sync", "worker_consumers"]
