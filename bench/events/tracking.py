"""Measuring one phase: when each message was sent and arrived (Tracker), and what the machine did meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import resource
import time
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager

from bench.events.report import PhaseResult, percentile
from bench.running import process_cpu


class Tracker:
    """Send and arrival times of one phase's messages, by message id; warm-up ones are not measured."""

    def __init__(self, expected: int, warmup: int) -> None:
        self._sent: dict[Hashable, tuple[float, bool]] = {}
        # An arrival whose send was not recorded yet: a writer records after its commit returns, and
        # in principle the event can be handled before that writer's task resumes.
        self._early: dict[Hashable, float] = {}
        self._expected_left = expected
        self._warmup_left = warmup
        self.latencies: list[float] = []  # arrival - send, of measured messages
        self.arrivals: list[float] = []  # arrival times (perf_counter) of measured messages
        self.first_sent = math.inf
        self.last_sent = -math.inf
        self.last_received = -math.inf
        self.done = asyncio.Event()
        self.warm = asyncio.Event()

    def sent(self, key: Hashable, at: float, *, warmup: bool = False) -> None:
        if not warmup:
            self.first_sent = min(self.first_sent, at)
            self.last_sent = max(self.last_sent, at)
        arrived = self._early.pop(key, None)
        self._sent[key] = (at, warmup)
        if arrived is not None:
            self.received(key, arrived, sent_at=min(at, arrived))

    def sent_at(self, key: Hashable) -> float | None:
        """When a measured message was sent; None for warm-up ones and unknown ones."""
        entry = self._sent.get(key)
        return entry[0] if entry is not None and not entry[1] else None

    def received(self, key: Hashable, at: float, *, sent_at: float | None = None) -> None:
        entry = self._sent.pop(key, None)
        if entry is None:
            self._early[key] = at  # or a duplicate delivery; either way not counted now
            return
        recorded_at, warmup = entry
        if warmup:
            self._warmup_left -= 1
            if self._warmup_left <= 0:
                self.warm.set()
            return
        self.latencies.append(at - (recorded_at if sent_at is None else sent_at))
        self.arrivals.append(at)
        self.last_received = max(self.last_received, at)
        self._expected_left -= 1
        if self._expected_left <= 0:
            self.done.set()

    def fill(self, result: PhaseResult, *, drain_started: float | None = None) -> PhaseResult:
        """Put the figures into `result`; for a drain, timed from `drain_started` (the relay's start)."""
        result.received = len(self.arrivals)
        if not self.arrivals:
            return result
        if drain_started is None:
            result.latencies = sorted(self.latencies)
            result.seconds = self.last_received - self.first_sent
        else:
            # The events waited in the outbox since their commit on purpose: that wait is not the path's latency.
            result.handled_after_start = sorted(at - drain_started for at in self.arrivals)
            result.seconds = self.last_received - drain_started
        return result


@asynccontextmanager
async def machine_notes(result: PhaseResult) -> AsyncIterator[None]:
    """Note what the machine did meanwhile, to tell the path's cost from noise.

    Event loop lag: how late a 10 ms timer fires. Everything shares one loop, so a late timer means
    every coroutine (sender, relay, consumer) waited for this process's CPU, not for the network.
    CPU time and load average: whether the process was CPU-bound, and whether other processes
    (the broker, PostgreSQL, anything else on the machine) competed for the cores.
    """
    samples: list[float] = []
    loop = asyncio.get_running_loop()
    cpu_before, wall_before = cpu_seconds(), time.perf_counter()
    servers_before, stolen_before = server_cpu_seconds(), stolen_seconds()

    async def probe() -> None:
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            samples.append(loop.time() - before - 0.01)

    task = asyncio.create_task(probe())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        cpu, wall = cpu_seconds() - cpu_before, time.perf_counter() - wall_before
        servers = {name: seconds - servers_before.get(name, 0.0) for name, seconds in server_cpu_seconds().items()}
        stolen = stolen_seconds() - stolen_before
        ordered = sorted(samples)
        if ordered:
            result.notes.append(
                f"event loop lag (10 ms timer): p50 {percentile(ordered, 0.5) * 1000:.1f} / "
                f"p99 {percentile(ordered, 0.99) * 1000:.1f} / max {ordered[-1] * 1000:.1f} ms; "
                f"this process used {cpu:.1f} s CPU in {wall:.1f} s; "
                f"1-min load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
            )
        if result.expected:
            result.process_cpu_us = cpu * 1e6 / result.expected
        if result.expected and servers:
            result.server_cpu_us = {name: seconds * 1e6 / result.expected for name, seconds in servers.items()}
            result.notes.append(
                f"CPU per event: this process {result.process_cpu_us:.0f} µs, "
                + ", ".join(f"{name} {us:.0f} µs" for name, us in sorted(result.server_cpu_us.items()))
                + " (every process of that name on this machine; one that ends during the phase is not counted)"
            )
        if not math.isnan(stolen) and wall > 0:
            # A virtual machine's cores can be taken by its host: that time slows every path, and makes tails noisy.
            result.notes.append(
                f"CPU time stolen by the hypervisor: {stolen / (wall * (os.cpu_count() or 1)) * 100:.1f} % "
                "of the machine's during the phase"
            )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# The servers' processes by name in /proc: PostgreSQL's backends and the broker's JVM.
SERVER_PROCESSES = {"postgres": "PostgreSQL", "java": "broker (JVM)"}


def server_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by every process of SERVER_PROCESSES, per server; empty where /proc is not."""
    used: dict[str, float] = {}
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else ():
        found = process_cpu(pid) if pid.isdigit() else None
        server = SERVER_PROCESSES.get(found[0]) if found is not None else None
        if found is not None and server is not None:
            used[server] = used.get(server, 0.0) + found[1]
    return used


def stolen_seconds() -> float:
    """CPU seconds the hypervisor has taken from this machine so far (all cores; /proc/stat's steal), or NaN."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return math.nan
    # cpu user nice system idle iowait irq softirq steal ...
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else math.nan
