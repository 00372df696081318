"""Command line and the order of the run: start the stack, write steadily, inject each fault, read back."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.faults.faults import FAULTS
from bench.faults.load import ROUTES, Load, commit_message
from bench.faults.report import Round, as_json, print_report, tally
from bench.faults.stack import StackInfo, UpProcess
from bench.faults.verify import (
    Arrivals,
    accepted_keys,
    caused_events,
    check_versions,
    groups_behind,
    handled_marks,
    refused_keys,
    unsettled_sources,
)
from bench.running import say
from contracts.receivers import RECEIVERS
from services.runtime.kafka import admin_context


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="hubstream bench faults",
        description="Steady writes on every service while the broker, PostgreSQL, relays and workers are killed.",
    )
    parser.add_argument("--rate", type=float, default=20.0, help="writes/s on each service's write route")
    parser.add_argument("--rounds", type=int, default=3, help="how many times each fault is done")
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, from: {', '.join(FAULTS)}")
    parser.add_argument("--before", type=float, default=5.0, help="seconds of writes before each fault")
    parser.add_argument("--after", type=float, default=5.0, help="seconds of writes once a fault has recovered")
    parser.add_argument("--recover-timeout", type=float, default=120.0, help="seconds a fault may take to recover")
    parser.add_argument("--settle-timeout", type=float, default=120.0, help="seconds for events and work to settle")
    parser.add_argument("--json", type=Path, help="also write the rounds as JSON to this file")
    args = parser.parse_args(argv)
    args.faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in args.faults if f not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; choose from {', '.join(FAULTS)}")
    if args.rate <= 0 or args.rounds < 1:
        parser.error("--rate must be positive and --rounds at least 1")
    return args


async def _all_ready(session: aiohttp.ClientSession, info: StackInfo) -> bool:
    for url in info.urls.values():
        try:
            async with session.get(f"{url}/readyz") as response:
                if response.status != 200:
                    return False
        except (aiohttp.ClientError, TimeoutError):
            return False
    return True


async def wait_recovered(
    info: StackInfo, load: Load, arrivals: Arrivals, injected_at: float, timeout: float
) -> float | None:
    """Seconds from the fault until the path works end to end again.

    That is: every service is ready; on each write route, a write sent after the fault was accepted and its
    event arrived on the topic (the relays run again); and then every consumer group that reads those
    topics (the APIs' and the workers') has handled what had arrived by then (the consumers run again).
    """
    read = {route.topic for route in ROUTES} | {route.reads for route in ROUTES if route.reads}
    readers = {r.group: r.topic.name for r in RECEIVERS if r.topic.name in read}
    marks: dict[TopicPartition, int] | None = None  # how far the topics' records went once the writes flowed again
    async with AsyncExitStack() as resources:
        session = await resources.enter_async_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)))
        admin: AIOKafkaAdminClient | None = None
        while time.monotonic() - injected_at < timeout:
            if marks is None:
                flowing = {
                    a.service
                    for a in load.answers
                    if a.accepted and a.sent_at > injected_at and (a.service, a.key) in arrivals.first_seen
                }
                if flowing >= {r.service for r in ROUTES} and await _all_ready(session, info):
                    left = timeout - (time.monotonic() - injected_at)
                    try:
                        marks = await asyncio.wait_for(handled_marks(info.kafka, sorted(set(readers.values()))), left)
                    except TimeoutError:
                        return None
                    # One admin client for the rest of the wait (opened now: the broker may have been the fault):
                    # the groups are asked every 0.25 s, and each poll's time adds to the time to recover.
                    admin = await resources.enter_async_context(admin_context(info.kafka))
            if admin is not None and marks is not None and not await groups_behind(admin, readers, marks):
                return time.monotonic() - injected_at
            await asyncio.sleep(0.25)
    return None


async def settle(
    info: StackInfo, keys: dict[str, list[str]], timeout: float
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per route, the events each write caused (their data), once every accepted write's are there (or time is up).

    Read once more after that, two seconds later, so that a late duplicate shows as well.
    """
    deadline = time.monotonic() + timeout
    while True:
        caused = {r.service: await caused_events(info.kafka, r) for r in ROUTES}
        missing = sum(1 for r in ROUTES for k in keys[r.service] if k not in caused[r.service])
        if not missing or time.monotonic() > deadline:
            break
        say(f"waiting for {missing} events still in outboxes or not yet handled")
        await asyncio.sleep(2.0)
    await asyncio.sleep(2.0)
    return {r.service: await caused_events(info.kafka, r) for r in ROUTES}


async def run(args: argparse.Namespace) -> int:
    home = Path(tempfile.mkdtemp(prefix="hubstream-faults-"))
    up = UpProcess(home)
    say(f"starting a private `hubstream up` in {home}")
    info = await asyncio.to_thread(up.start)
    rounds_done: list[tuple[str, str, str, float | None]] = []  # (fault, phase label, what it did, recovered)
    ok = False
    try:
        run_id = uuid.uuid4().hex[:6]
        load = Load(urls=info.urls, token=info.token, kafka=info.kafka, rate=args.rate, run_id=run_id, phase="none")
        writing = asyncio.create_task(load.run())
        arrivals = Arrivals(info.kafka, ROUTES)
        following = asyncio.create_task(arrivals.run())
        await asyncio.sleep(args.before)
        rounds_done.append(("none", "none", "no fault", None))
        for n in range(args.rounds):
            for name in args.faults:
                label = f"{name}#{n + 1}"
                load.phase = label
                await asyncio.sleep(args.before)
                injected_at = time.monotonic()
                did = await asyncio.to_thread(FAULTS[name].inject, up)
                say(f"{label}: {did}")
                recovered = await wait_recovered(info, load, arrivals, injected_at, args.recover_timeout)
                say(f"{label}: " + (f"recovered in {recovered:.1f} s" if recovered is not None else "NOT recovered"))
                rounds_done.append((name, label, did, recovered))
                await asyncio.sleep(args.after)
        load.stop()
        await writing
        arrivals.stop()
        await following

        keys = {r.service: accepted_keys([a for a in load.answers if a.service == r.service]) for r in ROUTES}
        caused = await settle(info, keys, args.settle_timeout)
        counts = {service: {k: len(events) for k, events in by_key.items()} for service, by_key in caused.items()}
        ingest_ids = keys["ingest"]
        stuck = set(await unsettled_sources(info.urls["ingest"], info.token, ingest_ids, args.settle_timeout))
        # Which dataset each versioning write made: the upsert answered with it, a delta's answer names it.
        made = {a.name: a.key for a in load.answers if a.service == "versioning" and a.accepted and a.key}
        made |= {rid: events[0].get("dataset_id") for rid, events in caused["deltas"].items()}
        ledger = {dataset: commit_message(name) for name, dataset in made.items() if dataset}
        versions = await check_versions(info.urls["versioning"], info.token, ledger, args.settle_timeout)

        rounds: list[Round] = []
        for fault, label, did, recovered in rounds_done:
            answers = [a for a in load.answers if a.phase == label]
            outcomes = tally(answers)
            for service, out in outcomes.items():
                mine = [a for a in answers if a.service == service]
                seen = counts.get(service, {})
                out.lost = sum(1 for k in accepted_keys(mine) if not seen.get(k))
                out.doubled = sum(1 for k in accepted_keys(mine) if seen.get(k, 0) > 1)
                out.in_doubt = sum(1 for k in refused_keys(mine) if seen.get(k))
                if service == "ingest":
                    out.stuck = sum(1 for k in accepted_keys(mine) if k in stuck)
                if service == "versioning":
                    # The ledger of accepted upserts against the versions stored: not stored is lost, stored
                    # twice is doubled; stored without its commit, or with no event published, is stuck.
                    ours = accepted_keys(mine)
                    out.lost = sum(1 for k in ours if k in versions.missing)
                    out.doubled = sum(1 for k in ours if k in versions.doubled or seen.get(k, 0) > 1)
                    out.stuck = sum(
                        1 for k in ours if k in versions.wrong or (k not in versions.missing and not seen.get(k))
                    )
                if service == "deltas":
                    # A delta the broker took must be answered once (lost: never; doubled: twice, or two versions
                    # stored) with its version stored as sent (else stuck). One it did not acknowledge may
                    # still have landed (the producer retries): in doubt, and still never applied twice.
                    datasets = {k: made.get(k) for k in accepted_keys(mine)}
                    out.doubled = sum(
                        1
                        for a in mine
                        if a.key and (seen.get(a.key, 0) > 1 or (made.get(a.key) or "") in versions.doubled)
                    )
                    out.stuck = sum(1 for k, d in datasets.items() if d in versions.wrong or d in versions.missing)
                    out.in_doubt = sum(1 for a in mine if a.status is None and a.key and seen.get(a.key))
            rounds.append(Round(fault, did, recovered if fault != "none" else 0.0, outcomes))
        ok = print_report(rounds, rate=args.rate)
        if args.json:
            args.json.write_text(json.dumps(as_json(rounds), indent=2))
        return 0 if ok else 1
    finally:
        say("stopping the stack")
        await asyncio.to_thread(up.stop)
        if ok:
            shutil.rmtree(home, ignore_errors=True)
        else:  # what went wrong is in the processes' logs there
            say(f"the stack's state and logs are kept in {home}")


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))
