"""Waits that a shutdown can cut short, for the relay and the supervisor of background tasks."""

from __future__ import annotations

import asyncio


async def sleep_unless(stopping: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if `stopping` was set meanwhile."""
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
        return True
    except TimeoutError:
        return False


async def wait_any(*events: asyncio.Event, timeout: float) -> None:
    """Wait until any of `events` is set, or `timeout` seconds."""
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
