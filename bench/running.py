"""How a benchmark's command runs: logging, one event loop, Ctrl-C and SIGTERM both cancel and clean up."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from services.runtime.logging import init_logging


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """--database-url (a server on this machine; the run makes and drops its own databases there) and --verbose."""
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL URL on this machine; the run creates and drops its own database there "
        "(default: start a throw-away server)",
    )
    parser.add_argument("--verbose", action="store_true", help="log the runtime's INFO lines")


def check_database_url(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    from bench.events.infra import is_local_database

    if args.database_url and not is_local_database(args.database_url):
        parser.error("--database-url: only a PostgreSQL server on this machine (127.0.0.1, localhost, ::1) is allowed")


def say(message: str) -> None:
    """Progress on stderr, so that stdout holds only the report."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


async def _cancel_on_sigterm(work: Coroutine[Any, Any, int]) -> int:
    # SIGTERM cancels like Ctrl-C does, so servers and databases are cleaned up either way.
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await work
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def run_command(amain: Callable[[list[str] | None], Coroutine[Any, Any, int]], argv: list[str] | None, *,
                verbose: bool, log: logging.Logger) -> int:  # fmt: skip
    """Run `amain(argv)` to its exit code; 130 when interrupted, 1 (with the traceback logged) when it fails."""
    init_logging("INFO" if verbose else "WARNING", process="bench")
    try:
        return asyncio.run(_cancel_on_sigterm(amain(argv)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        say("interrupted; cleaned up")
        return 130
    except Exception:
        log.exception("benchmark failed")
        return 1
