"""What a run found and how it is printed: one PhaseResult per phase, the Report table and its goal lines."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter

from contracts.ingest import IndexProgress
from services.runtime.outbox import BATCH_SIZE, BATCHES_IN_FLIGHT

GOAL_THROUGHPUT_RATIO = 0.6  # hubstream drain against raw aiokafka, at saturation (medians)
GOAL_WRITERS_RATIO = 0.4  # hubstream while its writers commit, against raw aiokafka (medians)
GOAL_P99_MS = 25.0  # hubstream at the moderate rate (median of the rounds' p99)

# Phase kinds (a phase's label is what the table shows; its kind is what the goals look up).
SATURATION = "saturation"  # as fast as possible; for hubstream, with the writers committing meanwhile
DRAIN = "drain"  # hubstream only: the outbox is full before the relay and the consumer start
RATE = "rate"  # a moderate fixed rate

WRITERS_LABEL = "saturation+writers"  # hubstream's saturation phase: its writers' commits are in the figures


@dataclass
class PhaseResult:
    path: str  # "raw" or "hubstream"
    phase: str  # the label in the table: "saturation", "drain", "saturation+writers", "200/s x 10s"
    kind: str  # SATURATION, DRAIN or RATE
    expected: int
    round: int = 1  # each phase runs once per round; the figures are medians over the rounds
    received: int = 0
    # Saturation and rate: first send (commit) to last arrival. Drain: relay start to last event handled.
    seconds: float = math.nan
    # Seconds from send (commit) to arrival, sorted. Empty for a drain, where that is only time in the queue.
    latencies: list[float] = field(default_factory=list)
    # Drain only: seconds from the relay's start to each event handled, sorted; and from its start to its
    # first read of the outbox (advisory lock, LISTEN, recover: once per relay takeover, not per event).
    handled_after_start: list[float] = field(default_factory=list)
    startup_seconds: float = math.nan
    # Drain only: seconds from the relay's start until it had published every event.
    relay_done_seconds: float = math.nan
    # Drain only: seconds the consumer spent handling records (not waiting for them): its capacity alone.
    consumer_busy_seconds: float = math.nan
    # Drain only: events/s the writers committed while filling the outbox, with no relay and no consumer running.
    writers_alone_events_per_second: float = math.nan
    # CPU seconds per event, in µs, while the phase ran: this process's (tracking.machine_notes), and each server's.
    process_cpu_us: float = math.nan
    server_cpu_us: dict[str, float] = field(default_factory=dict)
    # hubstream only: p99 ms of each stage of the path (timed_relay.Stages), by stage name.
    stage_p99_ms: dict[str, float] = field(default_factory=dict)
    timed_out: bool = False
    failed_sends: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.timed_out and not self.failed_sends and self.received == self.expected

    @property
    def machine_cpu_us(self) -> float:
        """CPU per event of this process and of every server together, in µs."""
        return self.process_cpu_us + sum(self.server_cpu_us.values())

    @property
    def events_per_second(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else math.nan

    @property
    def events_per_second_after_startup(self) -> float:
        steady = self.seconds - self.startup_seconds
        return self.received / steady if steady > 0 else math.nan

    def latency_ms(self, quantile: float) -> float:
        return percentile(self.latencies, quantile) * 1000


def percentile(ordered: list[float], quantile: float) -> float:
    """Nearest-rank percentile of sorted values, quantile in [0, 1]; NaN for none."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(quantile * len(ordered)) - 1))]


def median(values: list[float]) -> float:
    """The median of the values that are numbers; NaN for none."""
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return math.nan
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def spread(values: list[float], digits: int) -> str:
    """The median (min-max) of the values that are numbers, as text."""
    numbers = [v for v in values if not math.isnan(v)]
    if not numbers:
        return "-"
    if len(numbers) == 1:
        return num(numbers[0], digits)
    return f"{num(median(numbers), digits)} ({num(min(numbers), digits)}-{num(max(numbers), digits)})"


EVENTS_PER_SECOND: Callable[[PhaseResult], float] = attrgetter("events_per_second")


@dataclass
class Report:
    payload_bytes: int
    writers: int
    max_batch: int
    rate: float
    seconds: float
    rounds: int
    planned: int  # phases the run meant to measure, all rounds: fewer results means it stopped early
    results: list[PhaseResult] = field(default_factory=list)
    peak_rss_mb: float = math.nan
    database: str = ""  # what the run created, and removed at its end
    topic_prefix: str = ""

    def runs(self, path: str, kind: str) -> list[PhaseResult]:
        """Every round's result of one phase, in round order."""
        return [r for r in self.results if r.path == path and r.kind == kind]

    def _complete(self, path: str, kind: str) -> list[PhaseResult]:
        runs = self.runs(path, kind)
        # A verdict on partial figures would mislead: every round must have finished.
        return runs if runs and all(r.ok for r in runs) else []

    def _ratios(self, kind: str) -> list[float]:
        """Per round: hubstream's events/s in phase `kind` over raw's at saturation in the same round."""
        raw = {r.round: r for r in self._complete("raw", SATURATION)}
        return [
            ours.events_per_second / raw[ours.round].events_per_second
            for ours in self._complete("hubstream", kind)
            if ours.round in raw
        ]

    def _against_raw(self, kind: str, rate: Callable[[PhaseResult], float] = EVENTS_PER_SECOND) -> float:
        """Median of hubstream's `rate` in phase `kind` over the median of raw's events/s: the verdicts rest on this."""
        raw, ours = self._complete("raw", SATURATION), self._complete("hubstream", kind)
        if not raw or not ours:
            return math.nan
        return median([rate(o) for o in ours]) / median([r.events_per_second for r in raw])

    @property
    def drain_ratio(self) -> float:
        """The goal's ratio: the event path alone (outbox -> relay -> Kafka -> consumer with inbox) against raw."""
        return self._against_raw(DRAIN)

    @property
    def writers_alone_ratio(self) -> float:
        """Informational: the drain's fill (the writers alone) against raw: a ceiling for the with-writers phase."""
        return self._against_raw(DRAIN, attrgetter("writers_alone_events_per_second"))

    @property
    def drain_after_startup_ratio(self) -> float:
        """Informational: the drain timed from the relay's first read, i.e. without its one-off start-up."""
        return self._against_raw(DRAIN, attrgetter("events_per_second_after_startup"))

    @property
    def writers_ratio(self) -> float:
        """The same path while the writers commit, in the same process, on the same cores."""
        return self._against_raw(SATURATION)

    @property
    def moderate_p99_ms(self) -> float:
        return median([r.latency_ms(0.99) for r in self._complete("hubstream", RATE)])

    @property
    def ok(self) -> bool:
        return len(self.results) == self.planned and all(r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        # Goals are reported, not enforced: a slow machine is not a failed benchmark.
        return 0 if self.ok else 1

    def _bounds(self) -> list[str]:
        """Where hubstream's time went, over the rounds: what a missed goal is to be read against."""
        lines = [""]
        drains = self._complete("hubstream", DRAIN)
        if drains:
            relay = median([r.relay_done_seconds for r in drains])
            total = median([r.seconds for r in drains])
            lines.append(
                f"drain bound (medians): the relay had published and marked everything {num(relay, 2)} s after "
                f"its start, the consumer had handled everything at {num(total, 2)} s: "
                + (
                    "the relay is the bound (the consumer kept up)"
                    if total - relay < 0.1 * total
                    else f"the consumer trailed the relay by {num(total - relay, 2)} s"
                )
                + "; the relay published "
                + num(median([r.received / (r.relay_done_seconds - r.startup_seconds) for r in drains]), 0)
                + " events/s from its first read to its last mark, the consumer handled "
                + num(median([r.received / r.consumer_busy_seconds for r in drains]), 0)
                + " events/s of the time it spent handling (not waiting for records)"
            )
        for kind in (SATURATION, RATE):
            runs = self._complete("hubstream", kind)
            if runs:
                lines.append(f"{runs[0].phase} stage p99 in ms (medians): {_stage_medians(runs)}")
        lines += self._cpu_bounds()
        return lines

    def _cpu_bounds(self) -> list[str]:
        """What this process's CPU per event allows: each path runs in one process, on one event loop.

        A loop that is never idle handles 1 / (CPU per event) events/s; no overlap of waits can do better.
        So a goal against raw needs this process under 1 / (goal x raw's events/s) per event.
        """
        raw = self._complete("raw", SATURATION)
        if not raw:
            return []
        raw_rate = median([r.events_per_second for r in raw])
        raw_cpu = median([r.process_cpu_us for r in raw])
        raw_all = median([r.machine_cpu_us for r in raw])
        lines = []
        for kind, goal in ((DRAIN, GOAL_THROUGHPUT_RATIO), (SATURATION, GOAL_WRITERS_RATIO)):
            runs = self._complete("hubstream", kind)
            cpu = median([r.process_cpu_us for r in runs])
            if not runs or math.isnan(cpu) or math.isnan(raw_rate):
                continue
            ceiling = 1e6 / cpu
            every = median([r.machine_cpu_us for r in runs])
            lines.append(
                f"{runs[0].phase} CPU bound (medians): this process used {num(cpu, 0)} µs per event (raw's "
                f"{num(raw_cpu, 0)} µs); with its loop never idle it would handle {num(ceiling, 0)} events/s, "
                f"{num(ceiling / raw_rate * 100, 1)} % of raw; the {goal * 100:.0f} % goal needs it under "
                f"{num(1e6 / (goal * raw_rate), 0)} µs per event. With PostgreSQL and the broker: {num(every, 0)} µs "
                f"per event of the machine's CPU (raw's {num(raw_all, 0)} µs)"
            )
        return lines

    def _phases(self) -> list[tuple[str, str]]:
        """(path, kind) of each phase, in the order they ran."""
        seen: list[tuple[str, str]] = []
        for r in self.results:
            if (r.path, r.kind) not in seen:
                seen.append((r.path, r.kind))
        return seen

    def render(self) -> str:
        lines = [
            f"payload {self.payload_bytes} bytes (encoded CloudEvents envelope of {IndexProgress.event_type}, "
            "with the relay's headers, on both paths); "
            f"hubstream writers: {self.writers} concurrent, 1..{self.max_batch} events per transaction",
            f"each phase ran {self.rounds} time(s), in rounds; figures are the median (min-max) over the rounds",
            "",
            f"{'path':<10} {'phase':<18} {'runs':>4} {'events':>7} {'events/s':>26} {'p50 ms':>8} "
            f"{'p99 ms':>20} {'max ms':>8}",
        ]
        for path, kind in self._phases():
            runs = self.runs(path, kind)
            status = ""
            incomplete = [r for r in runs if not r.ok]
            for r in incomplete:
                status += f"  INCOMPLETE in round {r.round}: {r.received}/{r.expected} received"
                if r.timed_out:
                    status += ", timed out"
                if r.failed_sends:
                    status += f", {r.failed_sends} sends failed"
            lines.append(
                f"{path:<10} {runs[0].phase:<18} {len(runs):>4} {runs[0].expected:>7} "
                f"{spread([r.events_per_second for r in runs], 1):>26} "
                f"{num(median([r.latency_ms(0.5) for r in runs]), 1):>8} "
                f"{spread([r.latency_ms(0.99) for r in runs], 1):>20} "
                f"{num(max((r.latency_ms(1.0) for r in runs), default=math.nan), 1):>8}"
                f"{status}"
            )
        lines += [
            "",
            "drain: the outbox held every event before the relay and the consumer started; events/s counts from",
            "  the relay's start to the last event handled. Time since commit would be time spent in the queue,",
            "  so the latency columns show '-'; how soon after the relay's start events were handled is below.",
            f"{WRITERS_LABEL}: the same path while {self.writers} writers commit the events, in this process and on",
            "  the same cores: its figures include the writers' PostgreSQL commits.",
            "raw: a transactional producer like the relay's, committing as the relay does (every "
            f"{BATCH_SIZE * BATCHES_IN_FLIGHT} records at",
            "  saturation, once per writer's burst at a fixed rate); its read_committed consumer commits offsets",
            "  with EventConsumer's policy.",
            "hubstream latency ends when the consumer's inbox transaction has committed; raw latency when the",
            "  consumer has the record. Notes below are from each phase's median round (by events/s).",
            "",
        ]
        for path, kind in self._phases():
            runs = self.runs(path, kind)
            middle = _median_run(runs)
            lines += [f"  {path} {middle.phase} (round {middle.round}): {note}" for note in middle.notes]
        drains = self._complete("hubstream", DRAIN)
        if drains:
            after = _median_run(drains).handled_after_start
            if after:
                lines += [
                    "",
                    f"hubstream drain, handled after the relay's start: 50 % by {percentile(after, 0.5):.2f} s, "
                    f"99 % by {percentile(after, 0.99):.2f} s, all {len(after)} by {after[-1]:.2f} s",
                ]
        lines += self._bounds()
        # The goal lines come last, so they are what a reader (or `tail -5`) sees first.
        drain, writers, p99 = self.drain_ratio, self.writers_ratio, self.moderate_p99_ms
        startup = median([r.startup_seconds for r in drains])
        drain_verdict = verdict(drain, GOAL_THROUGHPUT_RATIO, at_least=True, scale=100, unit=" points")
        writers_verdict = verdict(writers, GOAL_WRITERS_RATIO, at_least=True, scale=100, unit=" points")
        p99_verdict = verdict(p99, GOAL_P99_MS, at_least=False, unit=" ms")
        lines += [
            f"peak RSS of this process: {num(self.peak_rss_mb, 0)} MB",
            f"this run's database {self.database} and topics {self.topic_prefix}* are removed at its end",
            "",
            f"hubstream drain/raw throughput at saturation: {num(drain * 100, 1)} % "
            f"(per round {spread([x * 100 for x in self._ratios(DRAIN)], 1)} %)   "
            f"(goal >= {GOAL_THROUGHPUT_RATIO * 100:.0f} %: {drain_verdict})",
            f"hubstream drain/raw throughput without the relay's start-up ({num(startup, 2)} s): "
            f"{num(self.drain_after_startup_ratio * 100, 1)} %   "
            "(informational: the start-up is paid once per relay takeover)",
            f"hubstream with-writers/raw throughput at saturation: {num(writers * 100, 1)} % "
            f"(per round {spread([x * 100 for x in self._ratios(SATURATION)], 1)} %)   "
            f"(goal >= {GOAL_WRITERS_RATIO * 100:.0f} %: {writers_verdict})",
            f"hubstream writers alone/raw (the drain's fill: {self.writers} writers, no relay, no consumer): "
            f"{num(self.writers_alone_ratio * 100, 1)} %   (informational: the with-writers phase cannot beat it)",
            f"hubstream p99 latency at {num(self.rate, 0)} events/s: {num(p99, 1)} ms   "
            f"(goal < {GOAL_P99_MS:.0f} ms: {p99_verdict})",
        ]
        return "\n".join(lines)


def _stage_medians(runs: list[PhaseResult]) -> str:
    """Each stage's p99 as the median over the rounds: which one the time goes to."""
    names = list(dict.fromkeys(name for r in runs for name in r.stage_p99_ms))
    parts = [f"{name} {num(median([r.stage_p99_ms.get(name, math.nan) for r in runs]), 1)}" for name in names]
    return ", ".join(parts) if parts else "no samples"


def _median_run(runs: list[PhaseResult]) -> PhaseResult:
    """The round whose throughput is the median (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: -1.0 if math.isnan(r.events_per_second) else r.events_per_second)
    return ordered[(len(ordered) - 1) // 2]


def num(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def verdict(value: float, goal: float, *, at_least: bool, scale: float = 1.0, unit: str = "") -> str:
    """'met', or by how much it was missed (`scale` and `unit` for the shortfall: 100 and ' points' for ratios)."""
    if math.isnan(value):
        return "not measured"
    if (value >= goal) if at_least else (value < goal):
        return "met"
    return f"MISSED by {abs(value - goal) * scale:.1f}{unit}"
