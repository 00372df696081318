"""Background tasks of a phase (consumers, the relay): waiting on them, and stopping them cleanly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger("bench.events")

STOP_TIMEOUT = 30.0  # for background tasks to finish after their `stopping` is set


async def until(event: asyncio.Event, background: list[asyncio.Task[Any]]) -> None:
    """Wait for `event`, but fail at once if a background task ends first (it crashed)."""
    waiter = asyncio.create_task(event.wait())
    try:
        await asyncio.wait([waiter, *background], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not event.is_set():
        raise_if_ended(background)
        raise RuntimeError("a background task ended before the phase was done")


def raise_if_ended(background: list[asyncio.Task[Any]]) -> None:
    """Raise what a finished background task raised, or complain that it finished at all: they run until told."""
    for task in background:
        if task.done():
            task.result()
            raise RuntimeError("a background task ended before the phase was done")


async def stop(stopping: asyncio.Event, tasks: list[asyncio.Task[Any]]) -> None:
    """Ask background tasks to stop, give them time to do it cleanly, then cancel what is left."""
    stopping.set()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.warning("background task ended with an error: %r", task.exception())


class Loop:
    """A runtime loop, `run(stopping)` (the relay's, the consumer's), as a task that can be stopped and restarted.

    The drain phase needs the restart: it warms the path up, stops both loops while the outbox fills,
    then starts them again.
    """

    def __init__(self, run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        self._run = run
        self._stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        assert self.task is None, "already running"
        self._stopping = asyncio.Event()
        self.task = asyncio.create_task(self._run(self._stopping))

    async def stop(self) -> None:
        """Stop it if it runs; safe to call again (the phase's clean-up always does)."""
        if self.task is not None:
            task, self.task = self.task, None
            await stop(self._stopping, [task])


def running(*loops: Loop) -> list[asyncio.Task[Any]]:
    return [loop.task for loop in loops if loop.task is not None]


async def released(slots: asyncio.Semaphore, work: Awaitable[None]) -> None:
    try:
        await work
    finally:
        slots.release()
