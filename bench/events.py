"""Event-path benchmark: raw aiokafka against hubstream's outbox -> relay -> consumer, on one broker.

    .venv/bin/python -m bench.events --events 5000

Four phases, in one run against the same broker and PostgreSQL:

* raw, saturation: an idempotent aiokafka producer sends `--events` messages the size of our
  encoded CloudEvents envelope to a fresh 3-partition topic as fast as it can; a group consumer
  (manual commit after every `getmany`) reads them. Latency is the send time embedded in the
  payload to the time the consumer sees the record.
* hubstream, saturation: `--writers` concurrent writers commit small transactions (1..`--max-batch`
  events each) through `Outbox.add`; a running `OutboxRelay.run()` publishes them; an
  `EventConsumer` with a transactional handler (so every event takes an inbox claim, as in
  production) handles them. Latency is the end of the writing transaction's commit to the
  handler running.
* both paths again at a moderate fixed rate (`--rate` events/s for `--seconds`), with the same
  schedule of bursts: at saturation latency is mostly queueing, at a moderate rate it is the
  path's own cost.

Each phase starts with a few warm-up events that are not measured (they absorb group joins,
metadata fetches and the relay's start-up). Everything runs in this one Python process, so the
raw path and hubstream share the same CPU budget; in production the writer, the relay and the
consumer are three processes.

Without `--kafka` / `--database-url` a throw-away broker and PostgreSQL are started the way
tests/conftest.py does (deploy.broker / deploy.postgres) and removed at the end. Either way the
run gets its own topic prefix and its own database, both removed at the end; all traffic stays on
the addresses given (127.0.0.1 for the throw-away servers); every phase has a hard timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import math
import os
import random
import resource
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Hashable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.structs import ConsumerRecord

from contracts import encode, wrap
from contracts.ingest import IndexProgress
from contracts.topics import INGEST_STATUS
from deploy import broker, postgres
from services.runtime import db, migrations
from services.runtime.consumer import EventConsumer, Received
from services.runtime.kafka import admin_context, ensure_topics, producer_context
from services.runtime.logging import init_logging
from services.runtime.outbox import HEADER_OUTBOX_ID, Outbox, OutboxRelay, PendingRow

log = logging.getLogger("bench.events")

T = TypeVar("T")

SOURCE = "/hubstream/bench"
ROW_COUNT = 1_000_000  # payload values only; sized like a real progress event
RAW_HEADER = struct.Struct("<dq")  # send time (perf_counter seconds), sequence number (negative: warm-up)
MAX_RECORDS = 200  # records per getmany for the raw consumer: EventConsumer's default
STOP_TIMEOUT = 30.0  # for background tasks to finish after `stopping` is set
SETUP_TIMEOUT = 60.0  # topics, migrations, clients: added to --phase-timeout for a phase's hard limit
GOAL_THROUGHPUT_RATIO = 0.5
GOAL_P99_MS = 100.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.events",
        description="Throughput and latency of raw aiokafka against hubstream's outbox -> relay -> consumer path.",
    )
    parser.add_argument("--events", type=int, default=20000, help="events per path in the saturation phase")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s in the moderate-rate phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the moderate-rate phase")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writing transactions (hubstream)")
    parser.add_argument("--max-batch", type=int, default=10, help="events per transaction: 1 to this many")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured events at the start of each phase")
    parser.add_argument("--phase-timeout", type=float, default=300.0, help="hard limit for each phase, in seconds")
    parser.add_argument("--seed", type=int, default=1, help="seed of the transaction sizes and keys")
    parser.add_argument("--kafka", help="bootstrap servers of a running broker (default: start a throw-away one)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL URL; the benchmark creates and drops its own database on that server "
        "(default: start a throw-away server)",
    )
    parser.add_argument("--verbose", action="store_true", help="log the runtime's INFO lines")
    args = parser.parse_args(argv)
    for name in ("events", "writers", "max_batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 1:
        parser.error("--warmup must be at least 1 (it is how a phase knows the path is ready)")
    if args.rate <= 0 or args.seconds <= 0 or args.phase_timeout <= 0:
        parser.error("--rate, --seconds and --phase-timeout must be positive")
    # The benchmark saturates what it talks to: never point it at a shared server by mistake.
    if args.kafka and not is_local_kafka(args.kafka):
        parser.error(f"--kafka {args.kafka}: only a broker on this machine (127.0.0.1, localhost, ::1) is allowed")
    if args.database_url and not is_local_database(args.database_url):
        parser.error("--database-url: only a PostgreSQL server on this machine (127.0.0.1, localhost, ::1) is allowed")
    return args


def is_local_kafka(bootstrap: str) -> bool:
    """Whether every bootstrap server is on this machine."""
    return all(_is_loopback(_host_of(server)) for server in bootstrap.split(","))


def is_local_database(url: str) -> bool:
    return _is_loopback(urlsplit(url).hostname)


def _host_of(server: str) -> str:
    server = server.strip()
    if server.startswith("["):  # [::1]:9092
        return server[1 : server.index("]")]
    return server.rsplit(":", 1)[0] if server.count(":") == 1 else server


def _is_loopback(host: str | None) -> bool:
    if not host or host.startswith("/"):
        return True  # a Unix socket
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------- results


@dataclass
class PhaseResult:
    path: str  # "raw" or "hubstream"
    phase: str  # "saturation" or e.g. "200/s x 10s"
    expected: int
    received: int = 0
    seconds: float = math.nan  # first send (commit) to last arrival
    latencies: list[float] = field(default_factory=list)  # seconds, sorted
    timed_out: bool = False
    failed_sends: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.timed_out and not self.failed_sends and self.received == self.expected

    @property
    def events_per_second(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else math.nan

    def latency_ms(self, quantile: float) -> float:
        return _percentile(self.latencies, quantile) * 1000


def _percentile(ordered: list[float], quantile: float) -> float:
    """Nearest-rank percentile of sorted values, quantile in [0, 1]; NaN for none."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(quantile * len(ordered)) - 1))]


@dataclass
class Report:
    payload_bytes: int
    writers: int
    max_batch: int
    rate: float
    seconds: float
    results: list[PhaseResult] = field(default_factory=list)
    peak_rss_mb: float = math.nan

    def find(self, path: str, saturation: bool) -> PhaseResult | None:
        for r in self.results:
            if r.path == path and (r.phase == "saturation") == saturation:
                return r
        return None

    @property
    def throughput_ratio(self) -> float:
        raw, ours = self.find("raw", True), self.find("hubstream", True)
        if raw is None or ours is None or not (raw.ok and ours.ok):
            return math.nan  # a verdict on partial figures would mislead
        return ours.events_per_second / raw.events_per_second

    @property
    def moderate_p99_ms(self) -> float:
        ours = self.find("hubstream", False)
        return ours.latency_ms(0.99) if ours is not None and ours.ok else math.nan

    @property
    def ok(self) -> bool:
        return len(self.results) == 4 and all(r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        # Goals are reported, not enforced: a slow machine is not a failed benchmark.
        return 0 if self.ok else 1

    def render(self) -> str:
        lines = [
            f"payload {self.payload_bytes} bytes (encoded CloudEvents envelope of {IndexProgress.event_type}); "
            f"hubstream writers: {self.writers} concurrent, 1..{self.max_batch} events per transaction",
            "",
            f"{'path':<10} {'phase':<16} {'events':>7} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}",
        ]
        for r in self.results:
            status = "" if r.ok else f"  INCOMPLETE: {r.received}/{r.expected} received"
            if r.timed_out:
                status += ", timed out"
            if r.failed_sends:
                status += f", {r.failed_sends} sends failed"
            lines.append(
                f"{r.path:<10} {r.phase:<16} {r.received:>7} {_num(r.events_per_second, 1):>10} "
                f"{_num(r.latency_ms(0.5), 1):>8} {_num(r.latency_ms(0.99), 1):>8} {_num(r.latency_ms(1.0), 1):>8}"
                f"{status}"
            )
        ratio, p99 = self.throughput_ratio, self.moderate_p99_ms
        lines += [
            "",
            f"hubstream/raw throughput at saturation: {_num(ratio * 100, 1)} %   "
            f"(goal >= {GOAL_THROUGHPUT_RATIO * 100:.0f} %: {_verdict(ratio >= GOAL_THROUGHPUT_RATIO, ratio)})",
            f"hubstream p99 latency at {_num(self.rate, 0)} events/s: {_num(p99, 1)} ms   "
            f"(goal < {GOAL_P99_MS:.0f} ms: {_verdict(p99 < GOAL_P99_MS, p99)})",
            f"peak RSS of this process: {_num(self.peak_rss_mb, 0)} MB",
        ]
        for r in self.results:
            lines += [f"  {r.path} {r.phase}: {note}" for note in r.notes]
        return "\n".join(lines)


def _num(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _verdict(met: bool, value: float) -> str:
    if math.isnan(value):
        return "not measured"
    return "met" if met else "MISSED"


# ---------------------------------------------------------------------------------------------- tracking


class Tracker:
    """Send and arrival times of one phase's messages, by message id; warm-up ones are not measured."""

    def __init__(self, expected: int, warmup: int) -> None:
        self._sent: dict[Hashable, tuple[float, bool]] = {}
        # An arrival whose send was not recorded yet: a writer records after its commit returns, and
        # in principle the event can be handled before that writer's task resumes.
        self._early: dict[Hashable, float] = {}
        self._expected_left = expected
        self._warmup_left = warmup
        self.latencies: list[float] = []
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
        self.last_received = max(self.last_received, at)
        self._expected_left -= 1
        if self._expected_left <= 0:
            self.done.set()

    def fill(self, result: PhaseResult) -> PhaseResult:
        result.received = len(self.latencies)
        result.latencies = sorted(self.latencies)
        if self.latencies:
            result.seconds = self.last_received - self.first_sent
        return result


@dataclass(frozen=True)
class Plan:
    """What a phase sends: bursts (transactions) of events, as fast as possible or paced to `rate`."""

    label: str
    slug: str  # for topic, group and schema names
    bursts: tuple[int, ...]
    rate: float | None

    @property
    def total(self) -> int:
        return sum(self.bursts)

    def schedule(self) -> Iterator[tuple[float, int]]:
        """(seconds after the start, burst size); a burst is due when its first event is, at `rate`."""
        assert self.rate is not None
        before = 0
        for size in self.bursts:
            yield before / self.rate, size
            before += size


def make_plan(label: str, slug: str, total: int, max_batch: int, rng: random.Random, rate: float | None) -> Plan:
    bursts: list[int] = []
    left = total
    while left > 0:
        size = min(left, rng.randint(1, max_batch))
        bursts.append(size)
        left -= size
    return Plan(label, slug, tuple(bursts), rate)


async def _paced(plan: Plan) -> AsyncIterator[int]:
    """Yield burst sizes at their due times (a late burst goes at once: no catching up by skipping)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for due, size in plan.schedule():
        delay = start + due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        yield size


async def _until(event: asyncio.Event, background: list[asyncio.Task[Any]]) -> None:
    """Wait for `event`, but fail at once if a background task ends first (it crashed)."""
    waiter = asyncio.create_task(event.wait())
    try:
        await asyncio.wait([waiter, *background], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not event.is_set():
        for task in background:
            if task.done():
                task.result()  # raises what the task raised
        raise RuntimeError("a background task ended before the phase was done")


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
    cpu_before, wall_before = _cpu_seconds(), time.perf_counter()

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
        cpu, wall = _cpu_seconds() - cpu_before, time.perf_counter() - wall_before
        ordered = sorted(samples)
        if ordered:
            result.notes.append(
                f"event loop lag (10 ms timer): p50 {_percentile(ordered, 0.5) * 1000:.1f} / "
                f"p99 {_percentile(ordered, 0.99) * 1000:.1f} / max {ordered[-1] * 1000:.1f} ms; "
                f"this process used {cpu:.1f} s CPU in {wall:.1f} s; "
                f"1-min load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
            )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _stop(stopping: asyncio.Event, tasks: list[asyncio.Task[Any]]) -> None:
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


# ---------------------------------------------------------------------------------------------- raw path


@dataclass
class Target:
    bootstrap: str
    database_url: str
    prefix: str  # topics, groups of this run
    topics: list[str] = field(default_factory=list)  # created by this run, deleted at the end


async def raw_phase(target: Target, plan: Plan, args: argparse.Namespace, payload_bytes: int) -> PhaseResult:
    topic = f"{target.prefix}raw.{plan.slug}"
    async with admin_context(target.bootstrap) as admin:
        await admin.create_topics([NewTopic(topic, INGEST_STATUS.partitions, 1)])
    target.topics.append(topic)

    rng = random.Random(args.seed)
    keys = [str(_uuid(rng)).encode() for _ in range(1000)]
    padding = b"x" * max(0, payload_bytes - RAW_HEADER.size)
    tracker = Tracker(plan.total, args.warmup)
    result = PhaseResult("raw", plan.label, plan.total)
    acks: list[asyncio.Future[Any]] = []
    stopping = asyncio.Event()

    producer = AIOKafkaProducer(bootstrap_servers=target.bootstrap, enable_idempotence=True, linger_ms=5)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=target.bootstrap,
        group_id=topic,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )

    async def consume() -> None:
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=MAX_RECORDS)
            for records in batches.values():
                for record in records:
                    sent_at, seq = RAW_HEADER.unpack_from(record.value)
                    tracker.received(seq, time.perf_counter(), sent_at=sent_at)
            if batches:
                await consumer.commit()

    async def send(seq: int, *, warmup: bool = False) -> None:
        at = time.perf_counter()
        tracker.sent(seq, at, warmup=warmup)
        acks.append(await producer.send(topic, RAW_HEADER.pack(at, seq) + padding, key=rng.choice(keys)))

    async with AsyncExitStack() as stack:
        # aiokafka wants stop() even after a failed start(), so register it first.
        stack.push_async_callback(producer.stop)
        await producer.start()
        stack.push_async_callback(consumer.stop)
        await consumer.start()
        consuming = asyncio.create_task(consume())
        stack.push_async_callback(_stop, stopping, [consuming])
        try:
            async with asyncio.timeout(args.phase_timeout):
                for i in range(args.warmup):
                    await send(-1 - i, warmup=True)
                await _until(tracker.warm, [consuming])
                await stack.enter_async_context(machine_notes(result))
                if plan.rate is None:
                    for seq in range(plan.total):
                        await send(seq)
                        if seq % 100 == 99:
                            await asyncio.sleep(0)  # send() rarely suspends: let the consumer read meanwhile
                else:
                    seq = 0
                    async for size in _paced(plan):
                        for _ in range(size):
                            await send(seq)
                            seq += 1
                await _until(tracker.done, [consuming])
                outcomes = await asyncio.gather(*acks, return_exceptions=True)
                result.failed_sends = sum(isinstance(o, BaseException) for o in outcomes)
        except TimeoutError:
            result.timed_out = True
    return tracker.fill(result)


# ---------------------------------------------------------------------------------------------- hubstream path


class TimedRelay(OutboxRelay):
    """The runtime's relay, unchanged, with its steps timed: shows where a relay cycle spends its time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reset()

    def reset(self, target: int | None = None) -> None:
        self.cycles = 0
        self.rows = 0
        self.fetch_s = self.publish_s = self.mark_s = 0.0
        self.target = target  # `published` count at which the measured events are all out
        self.target_reached_at = math.nan
        # By outbox id: when the relay read the row, and when the broker acknowledged it.
        self.fetched_at: dict[int, float] = {}
        self.acked_at: dict[int, float] = {}

    async def fetch_pending(self, limit: int | None = None) -> list[PendingRow]:
        started = time.perf_counter()
        try:
            rows = await super().fetch_pending(limit)
        finally:
            self.fetch_s += time.perf_counter() - started
        now = time.perf_counter()
        for row in rows:
            self.fetched_at.setdefault(row.id, now)
        return rows

    async def publish(self, rows: list[PendingRow]) -> None:
        started = time.perf_counter()
        try:
            await super().publish(rows)
        finally:
            self.publish_s += time.perf_counter() - started
        now = time.perf_counter()
        for row in rows:
            self.acked_at.setdefault(row.id, now)

    async def mark(self, ids: list[int]) -> None:
        started = time.perf_counter()
        try:
            await super().mark(ids)
        finally:
            self.mark_s += time.perf_counter() - started

    async def relay_once(self) -> int:
        count = await super().relay_once()
        if count:
            self.cycles += 1
            self.rows += count
            if self.target is not None and self.published >= self.target and math.isnan(self.target_reached_at):
                self.target_reached_at = time.perf_counter()
        return count

    def summary(self, start: float) -> str:
        if not self.cycles:
            return "relay: no cycles"
        per = 1000 / self.cycles
        return (
            f"relay: {self.cycles} cycles, {self.rows / self.cycles:.1f} rows/cycle; per cycle fetch "
            f"{self.fetch_s * per:.1f} ms, publish+acks {self.publish_s * per:.1f} ms, "
            f"mark {self.mark_s * per:.1f} ms; "
            f"all published {self.target_reached_at - start:.2f} s after the first commit"
        )


class TimedConsumer(EventConsumer):
    """The runtime's consumer, unchanged, with `handle` timed, split at the moment the handler runs."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._started = 0.0
        self.reset()

    def reset(self) -> None:
        self.records = 0
        self.busy_s = 0.0  # inside handle()
        self.before_handler_s = 0.0  # decode, parse, pool acquire, BEGIN, inbox claim
        # Not `_started`: a reset can come while a record is in hand, and its finish must still see its start.

    def handler_runs(self) -> None:
        self.before_handler_s += time.perf_counter() - self._started

    async def handle(self, record: ConsumerRecord) -> str:
        self._started = time.perf_counter()
        try:
            return await super().handle(record)
        finally:
            self.busy_s += time.perf_counter() - self._started
            self.records += 1

    def summary(self, elapsed: float) -> str:
        if not self.records:
            return "consumer: no records"
        per = 1000 / self.records
        return (
            f"consumer: busy in handle() {self.busy_s:.2f} s of {elapsed:.2f} s ({self.busy_s / elapsed * 100:.0f} %); "
            f"per event {self.busy_s * per:.2f} ms = {self.before_handler_s * per:.2f} ms decode+claim before the "
            f"handler + {(self.busy_s - self.before_handler_s) * per:.2f} ms handler+commit; "
            f"{self.stats.handled} handled (with warm-up), {self.stats.duplicates} duplicates, "
            f"{self.stats.dead_lettered} dead-lettered"
        )


class Stages:
    """Where a hubstream event's latency goes: commit -> relay read it -> broker acked it -> handler ran."""

    def __init__(self) -> None:
        self.waiting: list[float] = []  # commit until the relay's SELECT returned the row
        self.publishing: list[float] = []  # until the broker acknowledged the relay's whole batch
        self.consuming: list[float] = []  # until the consumer ran the handler

    def add(self, committed: float | None, relay: TimedRelay, headers: Any, handled: float) -> None:
        raw_id = dict(headers or ()).get(HEADER_OUTBOX_ID)
        if committed is None or raw_id is None:
            return  # a warm-up event, or one whose commit is not recorded yet: not split
        outbox_id = int(raw_id)
        fetched, acked = relay.fetched_at.get(outbox_id), relay.acked_at.get(outbox_id)
        if fetched is None or acked is None:
            return  # read before the counters were reset
        self.waiting.append(fetched - committed)
        self.publishing.append(acked - fetched)
        self.consuming.append(handled - acked)

    def summary(self) -> str:
        parts = []
        for name, values in (
            ("commit->relay read", self.waiting),
            ("read->acked", self.publishing),
            ("acked->handled", self.consuming),
        ):
            ordered = sorted(values)
            if ordered:
                p50, p99, top = (_percentile(ordered, q) * 1000 for q in (0.5, 0.99, 1.0))
                parts.append(f"{name} p50 {p50:.1f} / p99 {p99:.1f} / max {top:.1f} ms")
        return "latency split: " + "; ".join(parts) if parts else "latency split: no samples"


async def hubstream_phase(target: Target, plan: Plan, args: argparse.Namespace) -> PhaseResult:
    schema = f"bench_{plan.slug}"  # its own outbox and inbox: no rows left over from another phase
    prefix = f"{target.prefix}{plan.slug}."
    await migrations.migrate(target.database_url, schema, migrations.load(migrations.RUNTIME_SQL / "core", "runtime"))
    target.topics += await ensure_topics(target.bootstrap, [INGEST_STATUS], prefix=prefix)

    rng = random.Random(args.seed)
    sources = [_uuid(rng) for _ in range(1000)]
    outbox = Outbox(schema=schema, source=SOURCE)
    tracker = Tracker(plan.total, args.warmup)
    result = PhaseResult("hubstream", plan.label, plan.total)
    stopping = asyncio.Event()
    stages = Stages()
    transactions = 0

    async def write(pool: asyncpg.Pool, size: int, *, warmup: bool = False) -> None:
        nonlocal transactions
        # One transaction reports progress of one source, as an indexing run does.
        source_id = rng.choice(sources)
        events = [
            IndexProgress(source_id=source_id, row_count=ROW_COUNT, indexed_row_count=i * 1000, chunk_count=i)
            for i in range(size)
        ]
        async with pool.acquire() as conn:
            async with conn.transaction():
                envelopes = await outbox.add(conn, *events)
            committed = time.perf_counter()
        for envelope in envelopes:
            tracker.sent(envelope.id, committed, warmup=warmup)
        if not warmup:
            transactions += 1

    async with AsyncExitStack() as stack:
        # One pool per production process: API (writers), relay, worker (consumer).
        api_pool = await stack.enter_async_context(
            db.pool_context(target.database_url, schema, min_size=args.writers, max_size=args.writers)
        )
        relay_pool = await stack.enter_async_context(db.pool_context(target.database_url, schema, max_size=3))
        worker_pool = await stack.enter_async_context(db.pool_context(target.database_url, schema, max_size=2))
        producer = await stack.enter_async_context(producer_context(target.bootstrap))
        relay = TimedRelay(relay_pool, producer, target.bootstrap, outbox, topic_prefix=prefix)
        consumer = TimedConsumer(
            group=f"{prefix}bench", bootstrap=target.bootstrap, pool=worker_pool, producer=producer, topic_prefix=prefix
        )

        async def handler(message: Received[IndexProgress], conn: asyncpg.Connection) -> None:
            now = time.perf_counter()
            consumer.handler_runs()
            stages.add(tracker.sent_at(message.envelope.id), relay, message.record.headers, now)
            tracker.received(message.envelope.id, now)

        consumer.on(IndexProgress, handler, transactional=True)
        background = [asyncio.create_task(relay.run(stopping)), asyncio.create_task(consumer.run(stopping))]
        stack.push_async_callback(_stop, stopping, background)
        try:
            async with asyncio.timeout(args.phase_timeout):
                left = args.warmup
                while left > 0:
                    size = min(left, args.max_batch)
                    await write(api_pool, size, warmup=True)
                    left -= size
                await _until(tracker.warm, background)
                # `published` counts from this relay's start; the last warm-up batch may not be marked yet.
                relay.reset(target=args.warmup + plan.total)
                consumer.reset()
                await stack.enter_async_context(machine_notes(result))
                if plan.rate is None:
                    bursts = iter(plan.bursts)  # shared: each writer takes the next transaction's size

                    async def writer() -> None:
                        for size in bursts:
                            await write(api_pool, size)

                    await asyncio.gather(*(writer() for _ in range(args.writers)))
                else:
                    slots = asyncio.Semaphore(args.writers)
                    async with asyncio.TaskGroup() as group:
                        async for size in _paced(plan):
                            await slots.acquire()
                            group.create_task(_released(slots, write(api_pool, size)))
                await _until(tracker.done, background)
        except TimeoutError:
            result.timed_out = True
    tracker.fill(result)
    if tracker.latencies:
        writing = tracker.last_sent - tracker.first_sent
        result.notes += [
            f"writers: {transactions} transactions committed in {writing:.2f} s "
            f"({plan.total / writing if writing > 0 else math.nan:.0f} events/s)",
            relay.summary(tracker.first_sent),
            consumer.summary(tracker.last_received - tracker.first_sent),
            stages.summary(),
        ]
    return result


async def _released(slots: asyncio.Semaphore, work: Awaitable[None]) -> None:
    try:
        await work
    finally:
        slots.release()


# ---------------------------------------------------------------------------------------------- infrastructure


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def envelope_size() -> int:
    """Bytes of one encoded envelope as the outbox stores and the relay sends it."""
    sample = IndexProgress(source_id=uuid.uuid4(), row_count=ROW_COUNT, indexed_row_count=500_000, chunk_count=5)
    return len(encode(wrap(sample, source=SOURCE)))


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking `fn` in a thread; if cancelled meanwhile, let it finish first, so nothing it starts is orphaned."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


@asynccontextmanager
async def throwaway_kafka() -> AsyncIterator[str]:
    home = Path(tempfile.mkdtemp(prefix="hubstream-bench-kafka-"))
    try:
        local = broker.LocalKafka(home=home, port=_free_port(), controller_port=_free_port())
        await _in_thread(local.format)  # the slow part of start(); start() then only spawns the process
        process = local.start(home / "stdout.log")
        try:
            # Not shielded: if we are cancelled, stopping the process below ends this wait too.
            await asyncio.to_thread(local.wait_ready, process)
            yield local.bootstrap
        finally:
            await _in_thread(broker.stop_process, process)
    finally:
        shutil.rmtree(home, ignore_errors=True)


@asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[str]:
    cluster = postgres.temporary(_free_port())
    try:
        await _in_thread(cluster.init)
        try:
            await _in_thread(cluster.start)
            yield cluster.url
        finally:
            await _in_thread(cluster.stop)
    finally:
        shutil.rmtree(cluster.data_dir.parent, ignore_errors=True)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the server of `server_url`, dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(server_url, name)
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _delete_topics(bootstrap: str, topics: list[str]) -> None:
    if not topics:
        return
    try:
        async with asyncio.timeout(30), admin_context(bootstrap) as admin:
            await admin.delete_topics(topics)
    except Exception as exc:
        log.warning("could not delete the benchmark's topics %s: %s", ", ".join(topics), exc)


@asynccontextmanager
async def infrastructure(args: argparse.Namespace) -> AsyncIterator[tuple[str, str]]:
    """(bootstrap, server URL): the ones given, or throw-away servers started side by side."""
    async with AsyncExitStack() as stack:
        wanted: list[contextlib.AbstractAsyncContextManager[str]] = []
        if not args.kafka:
            wanted.append(throwaway_kafka())
        if not args.database_url:
            wanted.append(throwaway_postgres())
        if wanted:
            _say(f"starting {len(wanted)} throw-away server(s) on 127.0.0.1")
        # Each context manager cleans up after itself if its start fails; the stack stops those that started.
        started = await asyncio.gather(*(stack.enter_async_context(cm) for cm in wanted), return_exceptions=True)
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        values = iter(started)
        bootstrap = args.kafka or next(values)
        server_url = args.database_url or next(values)
        yield str(bootstrap), str(server_url)


# ---------------------------------------------------------------------------------------------- entry points


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> Report:
    """Run the four phases; servers, database and topics are gone when this returns."""
    payload_bytes = envelope_size()
    report = Report(payload_bytes, args.writers, args.max_batch, args.rate, args.seconds)
    rng = random.Random(args.seed)
    moderate = round(args.rate * args.seconds)
    saturation = make_plan("saturation", "sat", args.events, args.max_batch, rng, None)
    paced = make_plan(f"{args.rate:g}/s x {args.seconds:g}s", "rate", moderate, args.max_batch, rng, args.rate)
    async with infrastructure(args) as (bootstrap, server_url), fresh_database(server_url) as database_url:
        target = Target(bootstrap, database_url, prefix=f"bench{uuid.uuid4().hex[:10]}.")
        try:
            for path, plan in (("raw", saturation), ("hubstream", saturation), ("raw", paced), ("hubstream", paced)):
                _say(f"{path}, {plan.label}: {plan.total} events")
                work = (
                    raw_phase(target, plan, args, payload_bytes)
                    if path == "raw"
                    else hubstream_phase(target, plan, args)
                )
                # The phase's own timeout bounds the measured traffic and keeps partial figures; this one
                # bounds everything, set-up and clean-up included, in case the broker or database hangs.
                try:
                    async with asyncio.timeout(args.phase_timeout + SETUP_TIMEOUT + STOP_TIMEOUT):
                        result = await work
                except TimeoutError:
                    log.error("%s, %s: did not finish set-up or clean-up in time", path, plan.label)
                    result = PhaseResult(path, plan.label, plan.total, timed_out=True)
                report.results.append(result)
                _say(
                    f"{path}, {plan.label}: {result.received}/{result.expected} in {_num(result.seconds, 2)} s"
                    + (" (timed out)" if result.timed_out else "")
                )
        finally:
            await _delete_topics(bootstrap, target.topics)
    # ru_maxrss is in KiB on Linux.
    report.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


async def amain(argv: list[str] | None = None) -> int:
    """Parse, run, print the table; the exit code. For callers that already have an event loop."""
    report = await run(parse_args(argv))
    print(report.render(), flush=True)
    return report.exit_code


async def _cancel_on_sigterm(work: Coroutine[Any, Any, int]) -> int:
    # SIGTERM cancels like Ctrl-C does, so the servers and the database are cleaned up either way.
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await work
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)  # parse first: --help and usage errors need no event loop
    init_logging("INFO" if args.verbose else "WARNING", process="bench")
    try:
        return asyncio.run(_cancel_on_sigterm(amain(argv)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        _say("interrupted; cleaned up")
        return 130
    except Exception:
        log.exception("benchmark failed")
        return 1


if __name__ == "__main__":
    sys.exit(main())
