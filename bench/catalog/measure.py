"""Timing: sequential requests (one in flight, so a figure is one request's own latency), after a warm-up."""

from __future__ import annotations

import time

import aiohttp
import asyncpg

from bench.catalog.scenarios import Scenario


class UnexpectedAnswer(RuntimeError):
    pass


async def over_http(session: aiohttp.ClientSession, base_url: str, scenario: Scenario, requests: int) -> list[float]:
    """Seconds per request, sorted; every answer must be a 200 with a JSON body, read in full."""
    latencies = []
    for i in range(requests):
        path = scenario.paths[i % len(scenario.paths)]
        started = time.perf_counter()
        async with session.get(base_url + path) as response:
            body = await response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200 or not body.startswith((b"[", b"{")):
            raise UnexpectedAnswer(f"GET {path} answered {response.status}: {body[:300]!r}")
    return sorted(latencies)


async def direct_sql(pool: asyncpg.Pool, scenario: Scenario, requests: int) -> list[float]:
    latencies = []
    for i in range(requests):
        call = scenario.baseline[i % len(scenario.baseline)]
        started = time.perf_counter()
        await call(pool)
        latencies.append(time.perf_counter() - started)
    return sorted(latencies)
