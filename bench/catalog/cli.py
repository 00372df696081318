"""Command line and the run: a database, the repos, the catalog server, the phases, the report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp

from bench.catalog.load import load_repos
from bench.catalog.measure import direct_sql, over_http
from bench.catalog.report import HTTP, SQL, Report
from bench.catalog.scenarios import build
from bench.catalog.transfer import measure as measure_transfers
from bench.catalog.transfer import remove_scratch
from bench.events.infra import _free_port, fresh_database, throwaway_postgres
from bench.running import add_database_options, check_database_url, run_command, say
from services.catalog import store_listing
from services.operator import ensure_admin
from services.registry import definition
from services.runtime.migrations import migrated_pool
from services.runtime.settings import InfraSettings

log = logging.getLogger("bench.catalog")

SERVER_START_TIMEOUT = 60.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.catalog",
        description="Listing and repo_info latency of the catalog over HTTP, beside the same SQL run directly; "
        "upload and download rates of a large file, beside a plain file copy.",
    )
    parser.add_argument("--repos", type=int, default=1_000_000, help="model repos to load")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per phase")
    parser.add_argument("--repeats", type=int, default=3, help="times every phase is measured")
    parser.add_argument("--page-size", type=int, default=100, help="the listing's limit=")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests before each phase")
    parser.add_argument("--phase-timeout", type=float, default=300.0, help="hard limit for each phase, in seconds")
    parser.add_argument(
        "--transfer-mb", type=int, default=1024, help="size of the uploaded and downloaded file in MB (0: no transfers)"
    )
    parser.add_argument(
        "--transfer-only", action="store_true", help="only the transfer phase: no repos loaded, no listing phases"
    )
    parser.add_argument(
        "--scratch-dir",
        type=Path,
        help="where the file, its copies and the catalog's blobs go (one disk for all; default: the system's temp)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic repos")
    add_database_options(parser)
    args = parser.parse_args(argv)
    for name in ("repos", "requests", "repeats", "page_size", "warmup"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.transfer_mb < 0:
        parser.error("--transfer-mb must be 0 or more")
    if args.transfer_only and args.transfer_mb == 0:
        parser.error("--transfer-only needs a --transfer-mb above 0")
    if args.page_size > 1000:
        parser.error("--page-size: the catalog serves at most 1000 repos a page")
    check_database_url(parser, args)
    return args


def _peak_rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@asynccontextmanager
async def catalog_server(
    database_url: str, home: Path | None = None, extra_env: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, int]]:
    """`hubstream serve catalog` on a free port, as its own process, its state (blobs) under `home` if given:
    (its URL, its pid)."""
    port = _free_port()
    env = {
        **os.environ,
        **(extra_env or {}),
        "HUBSTREAM_DATABASE_URL": database_url,
        **({"HUBSTREAM_HOME": str(home)} if home is not None else {}),
        "HUBSTREAM_CATALOG_HOST": "127.0.0.1",
        "HUBSTREAM_CATALOG_PORT": str(port),
        "HUBSTREAM_LOG_LEVEL": "WARNING",  # no access log line per request: that would be a logging benchmark
    }
    url = f"http://127.0.0.1:{port}"
    with tempfile.NamedTemporaryFile(prefix="hubstream-bench-catalog-", suffix=".log") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "serve", "catalog", env=env, stdout=output, stderr=output
        )
        try:
            await _wait_healthy(url, process)
            yield url, process.pid
        except Exception:
            output.flush()
            text = await asyncio.to_thread(Path(output.name).read_text)
            say(f"catalog server output:\n{text[-3000:]}")
            raise
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _wait_healthy(url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"the catalog server exited with code {process.returncode} while starting")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the catalog server did not answer on {url} within {SERVER_START_TIMEOUT:.0f} s")
            await asyncio.sleep(0.2)


async def run(args: argparse.Namespace) -> Report:
    report = Report(repos=0 if args.transfer_only else args.repos, page_size=args.page_size, requests=args.requests,
                    repeats=args.repeats)  # fmt: skip
    catalog = definition("catalog")
    async with AsyncExitStack() as stack:
        server_url = args.database_url
        if server_url is None:
            say("starting a throw-away PostgreSQL on 127.0.0.1")
            server_url = await stack.enter_async_context(throwaway_postgres())
        database_url = await stack.enter_async_context(fresh_database(server_url))
        pool = await stack.enter_async_context(migrated_pool(database_url, "catalog", catalog.migrations()))
        scratch = Path(tempfile.mkdtemp(prefix="hubstream-bench-catalog-", dir=args.scratch_dir))
        stack.callback(remove_scratch, scratch)
        scenarios = []
        if not args.transfer_only:
            report.load_seconds = await load_repos(pool, args.repos, args.seed)
            ids = await store_listing.random_public_ids(pool, min(1000, args.repos), args.seed)
            say("preparing the scenarios (deep cursors)")
            scenarios = await build(pool, args.page_size, ids)
        url, pid = await stack.enter_async_context(catalog_server(database_url, scratch / "home"))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        listing_repeats = args.repeats if scenarios else 0
        for repeat in range(1, listing_repeats + 1):
            for scenario in scenarios:
                async with asyncio.timeout(args.phase_timeout):
                    await over_http(session, url, scenario, args.warmup)
                    report.record(
                        scenario.label, scenario.kind, HTTP, await over_http(session, url, scenario, args.requests)
                    )
                    await direct_sql(pool, scenario, args.warmup)
                    report.record(scenario.label, scenario.kind, SQL, await direct_sql(pool, scenario, args.requests))
            say(f"repeat {repeat}/{args.repeats} done")
        if args.transfer_mb:
            token = await ensure_admin(InfraSettings(database_url=database_url), None)
            async with asyncio.timeout(args.phase_timeout * args.repeats):
                report.transfer = await measure_transfers(
                    url, token, pid, scratch, args.transfer_mb * 1_000_000, args.repeats
                )
        report.server_rss_mb = _peak_rss_mb(pid)
    report.bench_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return report


async def amain(argv: list[str] | None = None) -> int:
    """Parse, run, print the report; the exit code. For callers that already have an event loop."""
    report = await run(parse_args(argv))
    print(report.render(), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)  # parse first: --help and usage errors need no event loop
    return run_command(amain, argv, verbose=args.verbose, log=log)
