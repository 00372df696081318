"""How a benchmark's command runs: logging, one event loop, Ctrl-C and SIGTERM both cancel and clean up."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
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


def process_cpu(pid: int | str) -> tuple[str, float] | None:
    """A process's name and the user and system CPU seconds of all its threads (not its children's), from /proc;
    None once it has ended (or where there is no /proc)."""
    try:
        line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The name is in parentheses and may hold spaces and ')': the fields are what follows the last ')'.
    name, _, rest = line[line.index("(") + 1 :].rpartition(")")
    fields = rest.split()  # from the state on: utime and stime are the 12th and 13th
    return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
