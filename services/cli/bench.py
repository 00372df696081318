"""`hubstream bench NAME [...]`: benchmarks that print figures."""

from __future__ import annotations

from collections.abc import Sequence

from services.cli.common import Commands


def intercept(argv: Sequence[str]) -> int | None:
    """`bench events ...` goes to the benchmark as it is: it parses its own options, --help included."""
    if list(argv[:2]) != ["bench", "events"]:
        return None
    from bench import events

    return events.main(list(argv[2:]))


def register(commands: Commands) -> None:
    bench = commands.group("bench", "benchmarks that print figures", metavar="NAME")
    # Listed for --help only: `intercept` hands `bench events ...` to the benchmark before parsing.
    bench.action("events", "outbox -> Kafka -> consumer vs raw aiokafka", None)
