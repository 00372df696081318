"""Per scenario and path: p50 and p99 of each repeat; printed as medians with their spread."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from bench.catalog.scenarios import LISTING
from bench.events.report import num, percentile, verdict

GOAL_LISTING_P99_MS = 50.0
HTTP, SQL = "http", "sql"


@dataclass
class Figures:
    p50_ms: list[float] = field(default_factory=list)  # one per repeat
    p99_ms: list[float] = field(default_factory=list)
    max_ms: list[float] = field(default_factory=list)

    def add(self, latencies: list[float]) -> None:
        self.p50_ms.append(percentile(latencies, 0.5) * 1000)
        self.p99_ms.append(percentile(latencies, 0.99) * 1000)
        self.max_ms.append(latencies[-1] * 1000 if latencies else math.nan)


def _median_spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{num(statistics.median(values), 1)} ({num(min(values), 1)}-{num(max(values), 1)})"


@dataclass
class Report:
    repos: int
    page_size: int
    requests: int
    repeats: int
    load_seconds: float = math.nan
    figures: dict[tuple[str, str], Figures] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # scenario label -> kind
    bench_rss_mb: float = math.nan
    server_rss_mb: float = math.nan

    def record(self, label: str, kind: str, path: str, latencies: list[float]) -> None:
        self.kinds[label] = kind
        self.figures.setdefault((label, path), Figures()).add(latencies)

    def worst_listing_p99_ms(self) -> float:
        values = [
            statistics.median(f.p99_ms)
            for (label, path), f in self.figures.items()
            if path == HTTP and self.kinds[label] == LISTING and f.p99_ms
        ]
        return max(values) if values else math.nan

    def render(self) -> str:
        rate = self.repos / self.load_seconds if self.load_seconds > 0 else math.nan
        lines = [
            f"{self.repos:,} repos loaded with COPY, indexed and analyzed in {num(self.load_seconds, 1)} s "
            f"({num(rate, 0)} repos/s)",
            f"{self.requests} sequential requests per phase, {self.repeats} repeats, page size {self.page_size}; "
            "figures: median of the repeats (min-max)",
            "",
            f"{'scenario':<34} {'path':<5} {'p50 ms':>20} {'p99 ms':>20} {'max ms':>20}",
        ]
        for label in self.kinds:
            for path in (HTTP, SQL):
                f = self.figures.get((label, path))
                if f is None:
                    continue
                lines.append(
                    f"{label if path == HTTP else '':<34} {path:<5} {_median_spread(f.p50_ms):>20} "
                    f"{_median_spread(f.p99_ms):>20} {_median_spread(f.max_ms):>20}"
                )
        worst = self.worst_listing_p99_ms()
        lines += [
            "",
            "http: GET through `hubstream serve catalog` (its own process) with aiohttp; sql: the same SELECT with",
            "  asyncpg on a pool like the service's, in the same run: the difference is the HTTP service's own cost.",
            f"peak RSS: catalog server {num(self.server_rss_mb, 0)} MB, "
            f"benchmark process {num(self.bench_rss_mb, 0)} MB",
            "",
            f"listing p99 over HTTP, worst scenario: {num(worst, 1)} ms   "
            f"(goal < {GOAL_LISTING_P99_MS:.0f} ms: {verdict(worst, GOAL_LISTING_P99_MS, at_least=False, unit=' ms')})",
        ]
        return "\n".join(lines)
