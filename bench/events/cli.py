"""Command line and the order of phases: parse, start or reach the servers, run every phase, print the report."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import random
import resource

from bench.events.infra import fresh_database, infrastructure, is_local_database, is_local_kafka, run_target
from bench.events.outbox import drain_phase, writers_phase
from bench.events.payload import envelope_size
from bench.events.plan import Plan, make_plan
from bench.events.raw import raw_phase
from bench.events.report import DRAIN, RATE, SATURATION, WRITERS_LABEL, PhaseResult, Report, num
from bench.events.tasks import STOP_TIMEOUT
from bench.running import run_command, say

log = logging.getLogger("bench.events")

# --phase names, in the order of a round's phases (see `phases`).
PHASE_CHOICES = ("raw-saturation", "drain", "writers", "raw-rate", "rate")
SETUP_TIMEOUT = 60.0  # topics, migrations, clients: added to --phase-timeout for a phase's hard limit


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.events",
        description="Throughput and latency of raw aiokafka against hubstream's outbox -> relay -> consumer path.",
    )
    parser.add_argument("--events", type=int, default=20000, help="events per path in the saturation and drain phases")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s in the moderate-rate phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the moderate-rate phase")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writing transactions (hubstream)")
    parser.add_argument("--max-batch", type=int, default=10, help="events per transaction: 1 to this many")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured events at the start of each phase")
    parser.add_argument(
        "--rounds", type=int, default=3, help="times each phase runs (in rounds, so drift hits both paths alike)"
    )
    parser.add_argument("--phase-timeout", type=float, default=300.0, help="hard limit for each phase, in seconds")
    parser.add_argument(
        "--phase",
        action="append",
        choices=PHASE_CHOICES,
        help="run only this phase (repeatable; default: all); to profile one part of the path",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the transaction sizes and keys")
    parser.add_argument("--kafka", help="bootstrap servers of a running broker (default: start a throw-away one)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL URL; the benchmark creates and drops its own database on that server "
        "(default: start a throw-away server)",
    )
    parser.add_argument("--verbose", action="store_true", help="log the runtime's INFO lines")
    args = parser.parse_args(argv)
    for name in ("events", "writers", "max_batch", "rounds"):
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


def phases(args: argparse.Namespace) -> list[tuple[str, Plan, int]]:
    """(path, plan, round) in the order they run: every phase once per round, each run on topics, a group
    and a schema of its own. The drain and the writers' phase send what raw saturation sends."""
    rng = random.Random(args.seed)
    saturation = make_plan("saturation", SATURATION, "sat", args.events, args.max_batch, rng, None)
    drain = dataclasses.replace(saturation, label="drain", kind=DRAIN, slug="drain")
    with_writers = dataclasses.replace(saturation, label=WRITERS_LABEL)
    moderate = round(args.rate * args.seconds)
    paced = make_plan(f"{args.rate:g}/s x {args.seconds:g}s", RATE, "rate", moderate, args.max_batch, rng, args.rate)
    one_round = [
        ("raw", saturation),
        ("hubstream", drain),
        ("hubstream", with_writers),
        ("raw", paced),
        ("hubstream", paced),
    ]
    if args.phase:
        one_round = [pair for pair, choice in zip(one_round, PHASE_CHOICES, strict=True) if choice in args.phase]
    return [
        (path, dataclasses.replace(plan, slug=f"{plan.slug}{n}"), n)
        for n in range(1, args.rounds + 1)
        for path, plan in one_round
    ]


async def run(args: argparse.Namespace) -> Report:
    """Run every phase; servers, database and topics are gone when this returns."""
    payload_bytes = envelope_size()
    planned = phases(args)
    report = Report(
        payload_bytes, args.writers, args.max_batch, args.rate, args.seconds, args.rounds, planned=len(planned)
    )
    async with (
        infrastructure(args) as (bootstrap, server_url),
        fresh_database(server_url) as database_url,
        run_target(bootstrap, database_url) as target,
    ):
        report.database = database_url.rsplit("/", 1)[-1]
        report.topic_prefix = target.prefix
        for path, plan, n in planned:
            say(f"round {n} of {args.rounds}, {path}, {plan.label}: {plan.total} events")
            if path == "raw":
                work = raw_phase(target, plan, args)
            elif plan.kind == DRAIN:
                work = drain_phase(target, plan, args)
            else:
                work = writers_phase(target, plan, args)
            # The phase's own timeout bounds the measured traffic and keeps partial figures; this one
            # bounds everything, set-up and clean-up included, in case the broker or database hangs.
            try:
                async with asyncio.timeout(args.phase_timeout + SETUP_TIMEOUT + STOP_TIMEOUT):
                    result = await work
            except TimeoutError:
                log.error("%s, %s: did not finish set-up or clean-up in time", path, plan.label)
                result = PhaseResult(path, plan.label, plan.kind, plan.total, timed_out=True)
            result.round = n
            report.results.append(result)
            say(
                f"{path}, {plan.label}: {result.received}/{result.expected} in {num(result.seconds, 2)} s"
                + (" (timed out)" if result.timed_out else "")
            )
    # ru_maxrss is in KiB on Linux.
    report.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


async def amain(argv: list[str] | None = None) -> int:
    """Parse, run, print the report; the exit code. For callers that already have an event loop."""
    report = await run(parse_args(argv))
    print(report.render(), flush=True)
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)  # parse first: --help and usage errors need no event loop
    return run_command(amain, argv, verbose=args.verbose, log=log)
