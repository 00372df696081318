"""`hubstream bench NAME [...]`: benchmarks that print figures.

Each benchmark is a package `bench/NAME/` whose `cli.main(argv)` parses its own options (--help included);
a new one is a line in BENCHMARKS.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from services.cli.common import Commands

# name -> the one-line help `hubstream bench --help` shows.
BENCHMARKS = {
    "events": "outbox -> Kafka -> consumer vs raw aiokafka",
    "faults": "steady writes while the broker, PostgreSQL, relays and workers are killed",
    "versioning": "version-after-delta, bulk upsert vs COPY, old-version page reads",
}


def intercept(argv: Sequence[str]) -> int | None:
    """`bench NAME ...` goes to bench.NAME.cli.main as it is, before argparse sees its options."""
    if len(argv) < 2 or argv[0] != "bench" or argv[1] not in BENCHMARKS:
        return None
    cli = importlib.import_module(f"bench.{argv[1]}.cli")
    return int(cli.main(list(argv[2:])))


def register(commands: Commands) -> None:
    bench = commands.group("bench", "benchmarks that print figures", metavar="NAME")
    # Listed for --help only: `intercept` hands `bench NAME ...` to the benchmark before parsing.
    for name, help in BENCHMARKS.items():
        bench.action(name, help, None)
