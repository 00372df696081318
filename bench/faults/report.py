"""What each fault did to the writes and the events, and how it is printed."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from bench.faults.load import Answer


@dataclass
class ServiceOutcome:
    service: str
    accepted: int = 0
    refused: Counter[int] = field(default_factory=Counter)  # status -> count
    no_answer: int = 0
    lost: int = 0  # accepted, yet no event
    doubled: int = 0  # accepted, more than one event
    # Refused with 503, yet applied and published: the connection died after PostgreSQL committed but before
    # its answer reached the service (a commit in doubt, which no client of a database can rule out). Shown,
    # not counted against the goal: nothing is lost or doubled, and a retry finds the write done (409 / same id).
    # For deltas: a record the broker did not acknowledge in time, applied all the same (the producer retried).
    in_doubt: int = 0
    stuck: int = 0  # accepted, never reached an end state

    @property
    def bad_5xx(self) -> int:
        return sum(n for status, n in self.refused.items() if status >= 500 and status != 503)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.doubled or self.stuck or self.bad_5xx)


@dataclass
class Round:
    fault: str
    did: str
    recovered_after: float | None  # seconds from the fault until services, relays and consumers work again (cli.py)
    outcomes: dict[str, ServiceOutcome]


def tally(answers: list[Answer]) -> dict[str, ServiceOutcome]:
    outcomes: dict[str, ServiceOutcome] = {}
    for a in answers:
        out = outcomes.setdefault(a.service, ServiceOutcome(a.service))
        if a.accepted:
            out.accepted += 1
        elif a.status is None:
            out.no_answer += 1
        else:
            out.refused[a.status] += 1
    return outcomes


def _refused_text(refused: Counter[int]) -> str:
    return ", ".join(f"{n}x{status}" for status, n in sorted(refused.items())) or "-"


def print_report(rounds: list[Round], *, rate: float) -> bool:
    """The table on stdout; True when the goal holds (0 lost, doubled, stuck; no 5xx but 503; all recovered)."""
    print(f"\nfault bench: {rate:g} writes/s on each write route, {len(rounds)} fault rounds")
    print(
        "(deltas: DatapointsDeltaRequested events another system publishes with aiokafka; accepted once the broker\n"
        " acknowledged one, no answer when it did not in time; the versioning worker must answer each once)\n"
    )
    header = (
        f"{'fault':<16} {'service':<10} {'accepted':>8}  {'refused (status)':<18} {'no answer':>9} "
        f"{'lost':>5} {'doubled':>7} {'in doubt':>8} {'stuck':>5}  recovered in"
    )
    print(header)
    print("-" * len(header))
    for r in rounds:
        for i, out in enumerate(sorted(r.outcomes.values(), key=lambda o: o.service)):
            recovered = "-" if i else ("not recovered" if r.recovered_after is None else f"{r.recovered_after:.1f} s")
            print(
                f"{r.fault if not i else '':<16} {out.service:<10} {out.accepted:>8}  "
                f"{_refused_text(out.refused):<18} {out.no_answer:>9} {out.lost:>5} {out.doubled:>7} "
                f"{out.in_doubt:>8} {out.stuck:>5}  {recovered}"
            )
    print()
    by_fault: dict[str, list[Round]] = {}
    for r in rounds:
        if r.fault != "none":
            by_fault.setdefault(r.fault, []).append(r)
    for fault, rs in by_fault.items():
        times = [r.recovered_after for r in rs if r.recovered_after is not None]
        if times:
            print(
                f"time to recover after {fault}: median {statistics.median(times):.1f} s "
                f"(min {min(times):.1f}, max {max(times):.1f}, {len(times)} of {len(rs)} rounds recovered)"
            )
        else:
            print(f"time to recover after {fault}: never recovered in {len(rs)} rounds")
    all_outcomes = [o for r in rounds for o in r.outcomes.values()]
    ok = all(o.clean for o in all_outcomes) and all(r.recovered_after is not None for r in rounds if r.fault != "none")
    totals = {
        "lost": sum(o.lost for o in all_outcomes),
        "doubled": sum(o.doubled for o in all_outcomes),
        "stuck": sum(o.stuck for o in all_outcomes),
        "5xx other than 503": sum(o.bad_5xx for o in all_outcomes),
    }
    print(
        "goal: 0 lost, 0 doubled, 0 stuck, 0 5xx other than 503, every fault recovered: "
        + ("MET" if ok else "MISSED")
        + " ("
        + ", ".join(f"{k} {v}" for k, v in totals.items())
        + ")"
    )
    in_doubt = sum(o.in_doubt for o in all_outcomes)
    if in_doubt:
        print(f"{in_doubt} write(s) refused (503) or not acknowledged were applied all the same (see report.py)")
    return ok


def as_json(rounds: list[Round]) -> list[dict]:
    return [
        {
            "fault": r.fault,
            "did": r.did,
            "recovered_after": r.recovered_after,
            "services": {
                s: {
                    "accepted": o.accepted,
                    "refused": {str(k): v for k, v in o.refused.items()},
                    "no_answer": o.no_answer,
                    "lost": o.lost,
                    "doubled": o.doubled,
                    "in_doubt": o.in_doubt,
                    "stuck": o.stuck,
                }
                for s, o in r.outcomes.items()
            },
        }
        for r in rounds
    ]
