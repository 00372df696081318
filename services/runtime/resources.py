"""Resources as aiohttp cleanup contexts: acquired at start, released at stop.

Start-up fails fast with a sentence naming what is missing (dataset-viewer's
"check resources at start" rule); `hubstream serve` prints it and exits 1.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress

from aiohttp import web

from services.runtime import migrations, retention
from services.runtime.deps import ConsumerFactory, Deps
from services.runtime.kafka import producer_context
from services.runtime.keys import CONFIG, CONSUMERS, METRICS, MIGRATIONS, OUTBOX, POOL, PRODUCER
from services.runtime.outbox import Outbox
from services.runtime.stopping import sleep_unless

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0
RESTART_DELAY = 2.0  # before a crashed background task is started again; doubled for each crash in a row
RESTART_DELAY_MAX = 30.0

Runnable = Callable[[asyncio.Event], Awaitable[None]]


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    async with migrations.migrated_pool(config.infra.database_url, config.schema, app[MIGRATIONS]) as pool:
        app[POOL] = pool
        app[OUTBOX] = Outbox(schema=config.schema, source=config.event_source)

        async def refresh_backlog() -> None:
            row = await pool.fetchrow(
                "SELECT count(*) AS pending, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest "
                "FROM outbox"
            )
            app[METRICS].outbox_backlog.labels(config.service).set(row["pending"])
            app[METRICS].outbox_oldest.labels(config.service).set(float(row["oldest"]))

        async def refresh_tables() -> None:
            metrics = app[METRICS]
            for stats in await retention.table_stats(pool):
                metrics.table_bytes.labels(config.service, stats.table).set(stats.bytes)
                metrics.table_rows.labels(config.service, stats.table).set(stats.estimated_rows)
                metrics.retention_pruned.labels(config.service, stats.table).set(stats.pruned)

        app[METRICS].on_scrape(refresh_backlog)
        app[METRICS].on_scrape(refresh_tables)
        yield


async def producer_ctx(app: web.Application) -> AsyncIterator[None]:
    async with producer_context(app[CONFIG].infra.kafka) as producer:
        app[PRODUCER] = producer
        yield


def consumers_ctx(open_consumers: ConsumerFactory) -> Callable[[web.Application], AsyncIterator[None]]:
    """Run the consumers that `open_consumers` gives as background tasks of the app."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        deps = Deps(config=app[CONFIG], pool=app[POOL], producer=app[PRODUCER], outbox=app[OUTBOX])
        async with open_consumers(deps) as consumers:
            app[CONSUMERS].extend(consumers)
            tasks = BackgroundTasks({c.group: c.run for c in consumers})

            async def refresh_stats() -> None:
                for c in consumers:
                    for outcome in ("handled", "duplicates", "skipped", "retries", "dead_lettered"):
                        app[METRICS].consumer_events.labels(c.group, outcome).set(getattr(c.stats, outcome))
                    app[METRICS].consumer_restarts.labels(c.group).set(tasks.restarts[c.group])

            app[METRICS].on_scrape(refresh_stats)
            async with tasks:
                yield

    return ctx


class BackgroundTasks:
    """Start each runnable as a supervised task; on exit, ask them to stop and wait a grace period.

    A runnable that crashes (a consumer whose database connection was lost, say) is started again
    after `restart_delay` seconds, doubled for each crash in a row up to `RESTART_DELAY_MAX`;
    `restarts` counts them per name.
    """

    def __init__(
        self,
        runnables: dict[str, Runnable],
        *,
        grace: float = SHUTDOWN_GRACE_SECONDS,
        restart_delay: float = RESTART_DELAY,
    ) -> None:
        self._runnables = runnables
        self._grace = grace
        self._restart_delay = restart_delay
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.restarts: dict[str, int] = dict.fromkeys(runnables, 0)

    async def __aenter__(self) -> asyncio.Event:
        self._tasks = [
            asyncio.create_task(self._supervise(name, run), name=name) for name, run in self._runnables.items()
        ]
        return self._stopping

    async def __aexit__(self, *exc: object) -> None:
        self._stopping.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=self._grace)
        for task in pending:
            # Abandoned in-flight work is safe: its transaction rolls back and its offset was not committed.
            log.warning("%s did not stop within %.0f s; cancelling it", task.get_name(), self._grace)
            task.cancel()
        for task in pending:
            with suppress(asyncio.CancelledError):
                await task

    async def _supervise(self, name: str, run: Runnable) -> None:
        """Run `run` until stopping; if it crashes, log why and start it again after a pause."""
        loop = asyncio.get_running_loop()
        delay = self._restart_delay
        while not self._stopping.is_set():
            started = loop.time()
            try:
                await run(self._stopping)
                if self._stopping.is_set():
                    return
                log.warning("%s ended on its own; restarting it in %.1f s", name, delay)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if loop.time() - started > RESTART_DELAY_MAX:
                    delay = self._restart_delay  # it ran well for a while: a new crash, not the same one again
                log.exception("%s stopped with an error (%s); restarting it in %.1f s", name, exc, delay)
            if await sleep_unless(self._stopping, delay):
                return
            self.restarts[name] += 1
            log.info("%s: restarting (restart %d)", name, self.restarts[name])
            delay = min(RESTART_DELAY_MAX, delay * 2)
