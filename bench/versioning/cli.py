"""The versioning benchmark's entry point, phases, arguments and printed table (see bench/versioning/__init__.py)."""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg

from bench.events.infra import fresh_database, is_local_database, throwaway_postgres
from bench.events.report import percentile
from bench.running import say
from services.registry import definition
from services.runtime import db, migrations
from services.runtime.outbox import Outbox
from services.versioning import datapoints
from services.versioning.datapoints import MAX_DATAPOINTS, Datapoint
from services.versioning.versions import Delta, apply_delta

SCHEMA = "versioning"
GOAL_BULK_RATIO = 0.5
GOAL_DELTA_MS = 200.0
GOAL_DELTA_SPREAD = 1.5


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="hubstream bench versioning",
        description="Bulk upsert against asyncpg COPY, the time of a version after a delta at each size against a "
        "full member list, and page reads of an old version; what each phase measures is in bench/versioning/.",
    )
    p.add_argument("--sizes", default="100000,1000000", help="dataset sizes for the delta phase (ascending)")
    p.add_argument("--delta", type=int, default=1000, help="datapoints added, then removed, per delta")
    p.add_argument("--bulk", type=int, default=50_000, help="new datapoints per bulk upsert")
    p.add_argument("--reads", type=int, default=300, help="page-1 reads of the old version")
    p.add_argument("--repeat", type=int, default=3, help="repetitions of each measured phase")
    p.add_argument("--bulk-only", action="store_true", help="measure the bulk upsert phase only")
    p.add_argument("--database-url", help="a PostgreSQL server on this machine (default: a throw-away one)")
    args = p.parse_args(argv)
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.database_url and not is_local_database(args.database_url):
        p.error("the benchmark loads what it talks to: give a PostgreSQL server on this machine")
    return args


def rows(tag: str, count: int) -> list[dict]:
    """`count` distinct datapoints shaped like an eval set (about 150 bytes of JSON each)."""
    return [
        {
            "inputs": {"question": f"what is item {tag}-{i}?", "context": "a short passage the question is about"},
            "target": {"answer": f"answer {i}", "score": i % 5},
        }
        for i in range(count)
    ]


@dataclass
class Figures:
    label: str
    values: list[float] = field(default_factory=list)  # one per repetition
    unit: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def line(self) -> str:
        spread = f"{min(self.values):,.1f} .. {max(self.values):,.1f}" if self.values else "-"
        return f"{self.label:<58} {self.median:>12,.1f} {self.unit:<7} (n={len(self.values)}, {spread})"


@asynccontextmanager
async def bench_database(args: argparse.Namespace) -> AsyncIterator[str]:
    """A database of this run's own on the given (or a throw-away) server, dropped at the end."""
    if args.database_url:
        async with fresh_database(args.database_url) as url:
            yield url
        return
    say("starting a throw-away PostgreSQL on 127.0.0.1")
    async with throwaway_postgres() as server, fresh_database(server) as url:
        yield url


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await fn()
    return time.perf_counter() - started


class Bench:
    def __init__(self, pool: asyncpg.Pool, url: str, args: argparse.Namespace) -> None:
        self.pool = pool
        self.url = url
        self.args = args
        self.outbox = Outbox(schema=SCHEMA, source="/bench/versioning")

    async def upsert(self, points: list[Datapoint], action: str = "add", **where: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await apply_delta(conn, self.outbox, Delta(action=action, datapoints=points, actor="bench", **where))  # type: ignore[arg-type]

    async def grow(self, path: str, start: int, stop: int) -> None:
        for low in range(start, stop, MAX_DATAPOINTS):
            high = min(stop, low + MAX_DATAPOINTS)
            await self.upsert(datapoints.parse(rows(f"{path}-{low}", high - low)), path=path)
            say(f"{path}: {high:,} datapoints")

    async def bulk(self) -> tuple[Figures, Figures, Figures]:
        ours, ours_with_checks, copy = (
            Figures("bulk upsert (apply_delta, one transaction)", unit="rows/s"),
            Figures("bulk upsert incl. validation + canonical hash", unit="rows/s"),
            Figures("baseline: asyncpg COPY of the same rows", unit="rows/s"),
        )
        await self.pool.execute(
            """CREATE TABLE bench_copy (pk bigserial PRIMARY KEY, dataset bigint NOT NULL, hash bytea NOT NULL,
               id text NOT NULL, content jsonb NOT NULL, UNIQUE (dataset, hash))"""
        )
        n = self.args.bulk
        for rep in range(self.args.repeat):
            raw = rows(f"bulk-{rep}", n)
            started = time.perf_counter()
            points = datapoints.parse(raw)
            checked = time.perf_counter() - started
            took = await timed(lambda points=points: self.upsert(points, path="bulk"))
            ours.values.append(n / took)
            ours_with_checks.values.append(n / (took + checked))
            fresh = datapoints.parse(rows(f"copy-{rep}", n))
            records = [(1, p.hash, "dp_1" + p.hash[:10].hex(), p.canonical_json) for p in fresh]
            took = await timed(lambda records=records: self._copy(records))
            copy.values.append(n / took)
            say(f"bulk repetition {rep + 1}: ours {ours.values[-1]:,.0f} rows/s, COPY {copy.values[-1]:,.0f} rows/s")
        return ours, ours_with_checks, copy

    async def _copy(self, records: list[tuple[object, ...]]) -> None:
        """The baseline: COPY on a plain connection whose jsonb goes over the wire as its text."""
        conn = await asyncpg.connect(self.url, server_settings={"search_path": SCHEMA})
        try:
            await conn.set_type_codec(
                "jsonb", schema="pg_catalog", format="binary", encoder=lambda s: b"\x01" + s.encode(), decoder=bytes
            )
            await conn.copy_records_to_table(
                "bench_copy", records=records, columns=("dataset", "hash", "id", "content")
            )
        finally:
            await conn.close()

    async def deltas(self, size: int, rep_base: int) -> tuple[Figures, Figures]:
        """Ours first, then the baseline: its million-row inserts would evict what ours reads between runs."""
        ours = Figures(f"version after +{self.args.delta} / -{self.args.delta} at {size:,}", unit="ms")
        naive = Figures(f"baseline: full member list per version at {size:,}", unit="ms")
        k = self.args.delta
        for rep in range(-1, self.args.repeat):  # rep -1 warms up (the dataset was just grown), unmeasured
            first = (rep_base + rep + 1) * k
            adds = datapoints.parse(rows(f"delta-{size}-{rep}", k))
            removes = datapoints.parse(rows("grow-0", first + k)[first:])

            async def both(adds: list[Datapoint] = adds, removes: list[Datapoint] = removes) -> None:
                await self.upsert(adds, path="grow")
                await self.upsert(removes, action="remove", path="grow")

            took = await timed(both) * 1000
            if rep >= 0:
                ours.values.append(took)
        for _ in range(self.args.repeat):
            naive.values.append(await timed(self._snapshot) * 1000)
        return ours, naive

    async def _snapshot(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """CREATE TEMP TABLE IF NOT EXISTS snapshot (version bigint, datapoint bigint) ON COMMIT DELETE ROWS;
                   INSERT INTO snapshot SELECT 1, datapoint FROM membership WHERE to_seq = 2147483647"""
            )

    async def reads(self) -> tuple[Figures, Figures, dict[str, float]]:
        pk = await self.pool.fetchval("SELECT pk FROM datasets WHERE path = 'grow'")
        versions = await self.pool.fetchval("SELECT count(*) FROM versions WHERE dataset = $1", pk)
        count = await self.pool.fetchval("SELECT datapoints_count FROM versions WHERE dataset = $1 AND seq = 1", pk)
        from services.versioning import store

        first = await self.pool.fetchrow("SELECT * FROM versions WHERE dataset = $1 AND seq = 1", pk)
        newest = await self.pool.fetchrow("SELECT * FROM versions WHERE dataset = $1 ORDER BY seq DESC LIMIT 1", pk)
        far = newest["datapoints_count"] * 9 // 10
        await store.page(self.pool, newest, limit=10, offset=far)  # builds the newest version's page anchors
        old: list[float] = []
        deep: list[float] = []
        plain: list[float] = []
        for _ in range(self.args.reads):
            old.append(await timed(lambda: store.page(self.pool, first, limit=10, offset=0)))
            deep.append(await timed(lambda: store.page(self.pool, newest, limit=10, offset=far)))
            plain.append(
                await timed(lambda: self.pool.fetch("SELECT id, content FROM bench_copy ORDER BY pk LIMIT 10"))
            )
        old.sort()
        deep.sort()
        plain.sort()
        label = f"page 1 of version 1 (of {versions}, {count:,} datapoints)"
        return (
            Figures(f"{label} p99", [percentile(old, 0.99) * 1000], "ms"),
            Figures("baseline: page 1 of a plain table p99", [percentile(plain, 0.99) * 1000], "ms"),
            {
                "p50": percentile(old, 0.5) * 1000,
                "deep": percentile(deep, 0.99) * 1000,
                "far": far,
                "newest": newest["datapoints_count"],
            },
        )


async def run(pool: asyncpg.Pool, url: str, args: argparse.Namespace) -> list[str]:
    bench = Bench(pool, url, args)
    out = [f"{'phase':<58} {'median':>12} {'unit':<7} (repetitions, min .. max)"]
    ours, ours_checked, copy = await bench.bulk()
    out += [ours.line(), ours_checked.line(), copy.line()]
    if args.bulk_only:
        out.append(
            f"\nbulk upsert / COPY: {ours.median / copy.median:.0%} (goal >= {GOAL_BULK_RATIO:.0%}); "
            f"incl. validation + hashing: {ours_checked.median / copy.median:.0%}"
        )
        return out
    grown = 0
    delta_figures = []
    for i, size in enumerate(args.sizes):
        await bench.grow("grow", grown, size)
        grown = size
        ours_delta, naive = await bench.deltas(size, i * (args.repeat + 1))
        delta_figures.append(ours_delta)
        out += [ours_delta.line(), naive.line()]
        say(f"delta at {size:,}: {ours_delta.median:.1f} ms (full member list: {naive.median:.1f} ms)")
    old, plain, extra = await bench.reads()
    out += [old.line(), plain.line(), f"{'  (p50 of the old-version read)':<58} {extra['p50']:>12,.2f} ms"]
    deep_label = f"page at offset {extra['far']:,} of the newest version ({extra['newest']:,}) p99"
    out.append(f"{deep_label:<58} {extra['deep']:>12,.2f} ms")
    out.append("")
    out.append(f"bulk upsert / COPY: {ours.median / copy.median:.0%} (goal >= {GOAL_BULK_RATIO:.0%})")
    if len(delta_figures) > 1:
        ratio = delta_figures[-1].median / delta_figures[0].median
        best = min(delta_figures[-1].values) / min(delta_figures[0].values)
        out.append(
            f"version after delta, largest/smallest size: {ratio:.2f}x by median, {best:.2f}x by best run "
            f"(goal <= {GOAL_DELTA_SPREAD}x); largest {delta_figures[-1].median:.1f} ms median, "
            f"{min(delta_figures[-1].values):.1f} ms best, for two upserts (goal <= {GOAL_DELTA_MS:.0f} ms)"
        )
    out.append(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    return out


async def amain(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    async with bench_database(args) as url:
        say(f"database {url.rpartition('/')[2]} (dropped at the end)")
        await migrations.migrate(url, SCHEMA, definition(SCHEMA).migrations())
        async with db.pool_context(url, SCHEMA) as pool:
            lines = await run(pool, url, args)
    print("\n".join(lines))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(amain(list(sys.argv[1:] if argv is None else argv)))
