"""What a run found and how it is printed: one PhaseResult per phase, the Report table and its goal lines."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from contracts.ingest import IndexProgress

GOAL_THROUGHPUT_RATIO = 0.5  # hubstream drain against raw aiokafka, at saturation
GOAL_P99_MS = 100.0  # hubstream at the moderate rate

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
    received: int = 0
    # Saturation and rate: first send (commit) to last arrival. Drain: relay start to last event handled.
    seconds: float = math.nan
    # Seconds from send (commit) to arrival, sorted. Empty for a drain, where that is only time in the queue.
    latencies: list[float] = field(default_factory=list)
    # Drain only: seconds from the relay's start to each event handled, sorted; and from its start to its
    # first read of the outbox (advisory lock, LISTEN, recover: once per relay takeover, not per event).
    handled_after_start: list[float] = field(default_factory=list)
    startup_seconds: float = math.nan
    timed_out: bool = False
    failed_sends: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.timed_out and not self.failed_sends and self.received == self.expected

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


@dataclass
class Report:
    payload_bytes: int
    writers: int
    max_batch: int
    rate: float
    seconds: float
    planned: int  # phases the run meant to measure: fewer results means it stopped early
    results: list[PhaseResult] = field(default_factory=list)
    peak_rss_mb: float = math.nan

    def find(self, path: str, kind: str) -> PhaseResult | None:
        for r in self.results:
            if r.path == path and r.kind == kind:
                return r
        return None

    def _against_raw(self, kind: str, *, after_startup: bool = False) -> float:
        raw, ours = self.find("raw", SATURATION), self.find("hubstream", kind)
        if raw is None or ours is None or not (raw.ok and ours.ok):
            return math.nan  # a verdict on partial figures would mislead
        rate = ours.events_per_second_after_startup if after_startup else ours.events_per_second
        return rate / raw.events_per_second

    @property
    def drain_ratio(self) -> float:
        """The goal's ratio: the event path alone (outbox -> relay -> Kafka -> consumer with inbox) against raw."""
        return self._against_raw(DRAIN)

    @property
    def drain_after_startup_ratio(self) -> float:
        """Informational: the drain timed from the relay's first read, i.e. without its one-off start-up."""
        return self._against_raw(DRAIN, after_startup=True)

    @property
    def writers_ratio(self) -> float:
        """Informational: the same path while the writers commit, in the same process, on the same cores."""
        return self._against_raw(SATURATION)

    @property
    def moderate_p99_ms(self) -> float:
        ours = self.find("hubstream", RATE)
        return ours.latency_ms(0.99) if ours is not None and ours.ok else math.nan

    @property
    def ok(self) -> bool:
        return len(self.results) == self.planned and all(r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        # Goals are reported, not enforced: a slow machine is not a failed benchmark.
        return 0 if self.ok else 1

    def render(self) -> str:
        lines = [
            f"payload {self.payload_bytes} bytes (encoded CloudEvents envelope of {IndexProgress.event_type}); "
            f"hubstream writers: {self.writers} concurrent, 1..{self.max_batch} events per transaction",
            "",
            f"{'path':<10} {'phase':<18} {'events':>7} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}",
        ]
        for r in self.results:
            status = "" if r.ok else f"  INCOMPLETE: {r.received}/{r.expected} received"
            if r.timed_out:
                status += ", timed out"
            if r.failed_sends:
                status += f", {r.failed_sends} sends failed"
            lines.append(
                f"{r.path:<10} {r.phase:<18} {r.received:>7} {num(r.events_per_second, 1):>10} "
                f"{num(r.latency_ms(0.5), 1):>8} {num(r.latency_ms(0.99), 1):>8} {num(r.latency_ms(1.0), 1):>8}"
                f"{status}"
            )
        lines += [
            "",
            "drain: the outbox held every event before the relay and the consumer started; events/s counts from",
            "  the relay's start to the last event handled. Time since commit would be time spent in the queue,",
            "  so the latency columns show '-'; how soon after the relay's start events were handled is below.",
            f"{WRITERS_LABEL}: the same path while {self.writers} writers commit the events, in this process and on",
            "  the same cores: its figures include the writers' PostgreSQL commits.",
            "",
        ]
        for r in self.results:
            lines += [f"  {r.path} {r.phase}: {note}" for note in r.notes]
        ours = self.find("hubstream", DRAIN)
        if ours is not None and ours.handled_after_start:
            after = ours.handled_after_start
            lines += [
                "",
                f"hubstream drain, handled after the relay's start: 50 % by {percentile(after, 0.5):.2f} s, "
                f"99 % by {percentile(after, 0.99):.2f} s, all {len(after)} by {after[-1]:.2f} s",
            ]
        # The goal lines come last, so they are what a reader (or `tail -4`) sees first.
        drain, writers, p99 = self.drain_ratio, self.writers_ratio, self.moderate_p99_ms
        startup = ours.startup_seconds if ours is not None else math.nan
        lines += [
            f"peak RSS of this process: {num(self.peak_rss_mb, 0)} MB",
            "",
            f"hubstream drain/raw throughput at saturation: {num(drain * 100, 1)} %   "
            f"(goal >= {GOAL_THROUGHPUT_RATIO * 100:.0f} %: {verdict(drain >= GOAL_THROUGHPUT_RATIO, drain)})",
            f"hubstream drain/raw throughput without the relay's start-up ({num(startup, 2)} s): "
            f"{num(self.drain_after_startup_ratio * 100, 1)} %   "
            "(informational: the start-up is paid once per relay takeover)",
            f"hubstream with-writers/raw throughput at saturation: {num(writers * 100, 1)} %   "
            "(informational: includes the writers' PostgreSQL commits)",
            f"hubstream p99 latency at {num(self.rate, 0)} events/s: {num(p99, 1)} ms   "
            f"(goal < {GOAL_P99_MS:.0f} ms: {verdict(p99 < GOAL_P99_MS, p99)})",
        ]
        return "\n".join(lines)


def num(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def verdict(met: bool, value: float) -> str:
    if math.isnan(value):
        return "not measured"
    return "met" if met else "MISSED"
