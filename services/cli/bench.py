"""`hubstream bench NAME [...]`: benchmarks that print figures.

Each benchmark is a package `bench/NAME/` whose `cli.main(argv)` parses its own options (--help included);
a new one is a line in BENCHMARKS.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from services.cli.common import Commands

# Each benchmark is a package under bench/ with a `main(argv)` that parses its own options.
BENCHMARKS = {
    "events": "outbox -> Kafka -> consumer vs raw aiokafka",
    "ingest": "index a 2M-row parquet corpus vs tantivy direct and PostgreSQL FTS; keyword search latency",
    "faults": "steady writes while the broker, PostgreSQL, relays and workers are killed",
    "catalog": "listing and repo_info latency over HTTP vs the same SQL, with 1M repos",
    "versioning": "version-after-delta, bulk upsert vs COPY, old-version page reads",
    "mirror": "full and incremental (1 percent changed) sync of 100K repos from a local upstream; a 1 GB file",
}


def intercept(argv: Sequence[str]) -> int | None:
    """`bench NAME ...` goes to the benchmark as it is: it parses its own options, --help included."""
    if len(argv) < 2 or argv[0] != "bench" or argv[1] not in BENCHMARKS:
        return None
    module = importlib.import_module(f"bench.{argv[1]}.cli")
    return int(module.main(list(argv[2:])))


def register(commands: Commands) -> None:
    bench = commands.group("bench", "benchmarks that print figures", metavar="NAME")
    # Listed for --help only: `intercept` hands `bench NAME ...` to the benchmark before parsing.
    for name, help in BENCHMARKS.items():
        bench.action(name, help, None)
