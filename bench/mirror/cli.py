"""Command line and the run: two databases, the upstream catalog server, the phases, the report."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.catalog.cli import catalog_server
from bench.events.infra import fresh_database, throwaway_postgres
from bench.events.report import num, verdict
from bench.mirror.load import add_big_file_repo, authors, change_some, load_upstream, write_big_file
from bench.running import add_database_options, check_database_url, run_command, say
from services.catalog import store_mirror
from services.catalog.mirror_sync import PARALLEL_REPOS, Progress, sync_mirror
from services.catalog.mirror_upstream import Upstream
from services.registry import definition
from services.runtime.migrations import migrated_pool
from services.runtime.outbox import Outbox

log = logging.getLogger("bench.mirror")

GOAL_INCREMENTAL_RATIO = 0.05
MIRROR = "bench"
MiB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mirror",
        description="A mirror's full and incremental sync from a local upstream catalog, and its file cache.",
    )
    parser.add_argument("--repos", type=int, default=100_000, help="repos on the upstream")
    parser.add_argument("--changed", type=float, default=0.01, help="fraction of repos changed before the incremental")
    parser.add_argument(
        "--file-mb", type=int, default=1024, help="size of the mirrored file, in MiB (0: no file phase)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="times every phase is measured")
    add_database_options(parser)
    args = parser.parse_args(argv)
    if args.repos < 1 or args.repeats < 1 or args.file_mb < 0 or not 0 < args.changed <= 1:
        parser.error("--repos and --repeats at least 1, --file-mb at least 0, --changed in (0, 1]")
    check_database_url(parser, args)
    return args


@dataclass
class Report:
    repos: int
    changed: int = 0
    full_s: list[float] = field(default_factory=list)
    fetch_only_s: list[float] = field(default_factory=list)
    incremental_s: list[float] = field(default_factory=list)
    file_mb: float = 0.0
    first_mbs: list[float] = field(default_factory=list)
    cached_mbs: list[float] = field(default_factory=list)
    copy_mbs: list[float] = field(default_factory=list)

    def render(self) -> str:
        def spread(values: list[float], digits: int = 1) -> str:
            if not values:
                return "-"
            return f"{num(statistics.median(values), digits)} ({num(min(values), digits)}-{num(max(values), digits)})"

        rate = [self.repos / s for s in self.full_s]
        fetch_rate = [self.repos / s for s in self.fetch_only_s]
        ratio = statistics.median(self.incremental_s) / statistics.median(self.full_s) if self.full_s else float("nan")
        lines = [
            f"mirror sync of {self.repos:,} repos from a local upstream catalog (each phase x{len(self.full_s)}; "
            "median (min-max))",
            f"  full sync              {spread(self.full_s)} s   {spread(rate, 0)} repos/s",
            f"  baseline: fetch only   {spread(self.fetch_only_s)} s   {spread(fetch_rate, 0)} repos/s  "
            f"(the same upstream calls, {PARALLEL_REPOS} in parallel, nothing written)",
            f"  incremental, {self.changed:,} changed   {spread(self.incremental_s, 2)} s   "
            f"= {num(ratio * 100, 2)} % of the full sync (goal <= {GOAL_INCREMENTAL_RATIO * 100:.0f} %: "
            f"{verdict(ratio, GOAL_INCREMENTAL_RATIO, at_least=False, scale=100, unit=' points')})",
        ]
        if self.first_mbs:
            lines += [
                f"mirrored file of {self.file_mb:,.0f} MiB, MB/s",
                f"  first download (upstream -> verify -> cache -> client)  {spread(self.first_mbs)}",
                f"  cached download                                         {spread(self.cached_mbs)}",
                f"  baseline: plain copy of the file on this disk            {spread(self.copy_mbs)}",
            ]
        return "\n".join(lines)


PROGRESS_EVERY = 10_000


def _progress(phase: str) -> Progress:
    """Every 10,000 repos: how far the phase is, its rate so far and the time it still needs at that rate."""
    started = time.perf_counter()

    async def show(done: int, total: int) -> None:
        if done and total and done % PROGRESS_EVERY == 0 and done < total:
            rate = done / (time.perf_counter() - started)
            say(f"  {phase}: {done:,}/{total:,} repos, {rate:,.0f}/s, ~{(total - done) / rate:,.0f} s to go")

    return show


async def _fetch_only(upstream: Upstream) -> None:
    """The baseline: every call a full sync makes to the upstream, as many at once, nothing written."""
    ids = []
    for author in authors():
        ids += [item.repo_id async for item in upstream.listing("dataset", {"author": author})]
    queue = iter(ids)
    progress = _progress("fetch only")
    done = 0

    async def worker() -> None:  # as sync_mirror's workers take the repos
        nonlocal done
        for repo_id in queue:
            info = await upstream.info("dataset", repo_id)
            await upstream.repo("dataset", repo_id, info)
            done += 1
            await progress(done, len(ids))

    await asyncio.gather(*(worker() for _ in range(PARALLEL_REPOS)))


async def _download(session: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    size = 0
    async with session.get(url) as response:
        response.raise_for_status()
        async for piece in response.content.iter_chunked(MiB):
            size += len(piece)
    return size / (time.perf_counter() - started) / 1e6


async def run(args: argparse.Namespace) -> Report:
    report = Report(repos=args.repos)
    catalog = definition("catalog")
    async with AsyncExitStack() as stack:
        server_url = args.database_url
        if server_url is None:
            say("starting a throw-away PostgreSQL on 127.0.0.1")
            server_url = await stack.enter_async_context(throwaway_postgres())
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hubstream-bench-mirror-")))
        up_db = await stack.enter_async_context(fresh_database(server_url))
        here_db = await stack.enter_async_context(fresh_database(server_url))
        up_pool = await stack.enter_async_context(migrated_pool(up_db, "catalog", catalog.migrations()))
        pool = await stack.enter_async_context(migrated_pool(here_db, "catalog", catalog.migrations()))
        await load_upstream(up_pool, args.repos)
        big = None
        if args.file_mb:
            say(f"writing a {args.file_mb} MiB file into the upstream's blob store")
            big = await asyncio.to_thread(write_big_file, home / "up" / "blobs", args.file_mb)
            await add_big_file_repo(up_pool, big[0], big[1])
        up_url, _ = await stack.enter_async_context(
            catalog_server(
                up_db,
                extra_env={
                    "HUBSTREAM_HOME": str(home / "up"),
                    "HUBSTREAM_CATALOG_BLOB_DIR": str(home / "up" / "blobs"),
                },
            )
        )
        async with pool.acquire() as conn:
            await store_mirror.insert_mirror(
                conn,
                name=MIRROR,
                upstream_url=up_url,
                token_sealed=None,
                repos=[],
                authors=authors(),
                search=None,
                collections=[],
                every_seconds=None,
            )
        outbox = Outbox(schema="catalog", source="/hubstream/catalog")
        session = await stack.enter_async_context(aiohttp.ClientSession())
        upstream = Upstream(session, up_url, None)
        for repeat in range(1, args.repeats + 1):
            repeat_started = time.perf_counter()
            say(f"repeat {repeat}/{args.repeats}: baseline (fetch only)")
            started = time.perf_counter()
            await _fetch_only(upstream)
            report.fetch_only_s.append(time.perf_counter() - started)
            say(f"  fetch only: {report.fetch_only_s[-1]:,.1f} s, {args.repos / report.fetch_only_s[-1]:,.0f} repos/s")
            async with pool.acquire() as conn:
                await store_mirror.forget_copies(conn, MIRROR)
            say(f"repeat {repeat}/{args.repeats}: full sync")
            mirror = await store_mirror.mirror(pool, MIRROR)
            started = time.perf_counter()
            outcome = await sync_mirror(pool, outbox, mirror, upstream, _progress("full sync"))
            report.full_s.append(time.perf_counter() - started)
            if not outcome.ok:
                raise RuntimeError(f"the full sync failed: {outcome.error_text()}")
            say(f"  full sync: {report.full_s[-1]:,.1f} s, {args.repos / report.full_s[-1]:,.0f} repos/s")
            report.changed = await change_some(up_pool, args.changed)
            say(f"repeat {repeat}/{args.repeats}: incremental sync ({report.changed:,} changed)")
            started = time.perf_counter()
            outcome = await sync_mirror(pool, outbox, mirror, upstream, _progress("incremental"))
            report.incremental_s.append(time.perf_counter() - started)
            if outcome.counts["updated"] != report.changed:
                raise RuntimeError(f"the incremental sync updated {outcome.counts}, not the {report.changed} changed")
            took = time.perf_counter() - repeat_started
            more = args.repeats - repeat
            left = f", ~{took * more / 60:,.0f} min of repeats left" if more else ""
            say(f"  incremental: {report.incremental_s[-1]:,.2f} s; this repeat took {took:,.0f} s{left}")
        if big is not None:
            await _files(report, stack, here_db, home, big, session)
    return report


def _home_env(home: Path) -> dict[str, str]:
    return {"HUBSTREAM_HOME": str(home), "HUBSTREAM_CATALOG_BLOB_DIR": str(home / "blobs")}


async def _files(
    report: Report,
    stack: AsyncExitStack,
    here_db: str,
    home: Path,
    big: tuple[str, int, Path],
    session: aiohttp.ClientSession,
) -> None:
    sha256, size, path = big
    report.file_mb = size / MiB
    blobs = home / "here" / "blobs"  # as _home_env sets it
    here_url, _ = await stack.enter_async_context(catalog_server(here_db, extra_env=_home_env(home / "here")))
    url = f"{here_url}/datasets/org0/big/resolve/main/big.bin"
    cached = blobs / sha256[:2] / sha256[2:4] / sha256
    for repeat in range(1, len(report.full_s) + 1):
        cached.unlink(missing_ok=True)
        say(f"repeat {repeat}: first download, cached download, plain copy")
        report.first_mbs.append(await _download(session, url))
        if not cached.exists():
            raise RuntimeError("the first download did not cache the file")
        report.cached_mbs.append(await _download(session, url))
        target = home / "copy.bin"
        started = time.perf_counter()
        await asyncio.to_thread(shutil.copyfile, path, target)
        report.copy_mbs.append(size / (time.perf_counter() - started) / 1e6)
        target.unlink()


async def amain(argv: list[str] | None = None) -> int:
    report = await run(parse_args(argv))
    print(report.render(), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_command(amain, argv, verbose=args.verbose, log=log)
