"""Per scenario and path: p50 and p99 of each repeat; printed as medians with their spread."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from bench.catalog.scenarios import LISTING
from bench.catalog.transfer import (
    COPY,
    CURL_DOWNLOAD,
    CURL_SERVED,
    CURL_UPLOAD,
    DOWNLOAD,
    SHA256,
    UPLOAD,
    TransferFigures,
)
from bench.events.report import num, percentile, verdict

GOAL_LISTING_P99_MS = 50.0
GOAL_TRANSFER_RATIO = 0.5  # upload and download at least half the rate of a plain file copy
GOAL_RSS_GROWTH_MB = 64.0  # "flat": a transfer of any size may raise the catalog's RSS by less than this
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
    transfer: TransferFigures | None = None

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
        lines = self._render_listing() if self.repos else []
        if self.transfer is not None:
            lines += ([""] if lines else []) + _render_transfer(self.transfer)
        lines.append(
            f"peak RSS: catalog server {num(self.server_rss_mb, 0)} MB, "
            f"benchmark process {num(self.bench_rss_mb, 0)} MB"
        )
        return "\n".join(lines)

    def _render_listing(self) -> list[str]:
        rate = self.repos / self.load_seconds if self.load_seconds > 0 else math.nan
        lines = [
            f"{self.repos:,} repos loaded with COPY, indexed and analyzed in {num(self.load_seconds, 1)} s "
            f"({num(rate, 0)} repos/s)",
            f"{self.requests} sequential requests per phase, {self.repeats} repeats, page size {self.page_size}; "
            "figures: median of the repeats (min-max)",
            "",
            f"{'scenario':<40} {'path':<5} {'p50 ms':>20} {'p99 ms':>20} {'max ms':>20}",
        ]
        for label in self.kinds:
            for path in (HTTP, SQL):
                f = self.figures.get((label, path))
                if f is None:
                    continue
                lines.append(
                    f"{label if path == HTTP else '':<40} {path:<5} {_median_spread(f.p50_ms):>20} "
                    f"{_median_spread(f.p99_ms):>20} {_median_spread(f.max_ms):>20}"
                )
        worst = self.worst_listing_p99_ms()
        lines += [
            "",
            "http: GET through `hubstream serve catalog` (its own process) with aiohttp; sql: the same SELECT with",
            "  asyncpg on a pool like the service's, in the same run: the difference is the HTTP service's own cost.",
            f"listing p99 over HTTP, worst scenario: {num(worst, 1)} ms   "
            f"(goal < {GOAL_LISTING_P99_MS:.0f} ms: {verdict(worst, GOAL_LISTING_P99_MS, at_least=False, unit=' ms')})",
        ]
        return lines


def _render_transfer(t: TransferFigures) -> list[str]:
    rounds = len(t.seconds.get(COPY, []))
    lines = [
        f"transfer of one {t.size_bytes / 1e6:,.0f} MB file, {rounds} rounds (each: copy, sha256 in memory, upload, "
        "download, and both again with curl); MB/s: median of the rounds (min-max)",
        "",
        f"{'path':<26} {'MB/s':>22} {'vs file copy':>14}",
    ]
    copy = statistics.median(t.rates_mb_s(COPY)) if t.rates_mb_s(COPY) else math.nan
    ratios = {}
    for path in (COPY, *([SHA256] if t.seconds.get(SHA256) else []), *_transfer_paths(t)):
        rates = t.rates_mb_s(path)
        ratios[path] = statistics.median(rates) / copy if rates and copy > 0 else math.nan
        lines.append(f"{path:<26} {_median_spread(rates):>22} {num(ratios[path] * 100, 0) + ' %':>14}")
    growth = [peak - start for start, peak in zip(t.rss_start_mb, t.rss_peak_mb, strict=True)]
    worst_growth = max(growth) if growth else math.nan
    cpu_per_gb, client_cpu_per_gb = _cpu_per_gb(t, t.cpu), _cpu_per_gb(t, t.client_cpu)
    lines += [
        "",
        "file copy: shutil.copyfile on the same disk; upload: preupload, LFS batch, PUT of the bytes to the signed",
        "  URL (streamed, no token), NDJSON commit; download: GET resolve, read into a file; both with aiohttp, one",
        "  request at a time, through `hubstream serve catalog` (its own process), whose blobs are on that disk;",
        "  the same with curl (-T to the signed URL, -o from resolve): a plain C client, a cross-check of what the",
        "  catalog can serve. The verdicts below are on the aiohttp client, tuned like huggingface_hub's.",
        "download, curl, discarded: the same GET, curl writing the bytes nowhere (-o /dev/null): the rate the",
        "  catalog serves at, without the client's own write of the file to the disk.",
        "sha256, 1 core: hashing the file's size in memory with hashlib on one core. The catalog refuses an upload",
        "  whose sha256 differs, so it hashes every byte as it arrives, and one stream's sha256 runs on one core:",
        "  no upload can beat that row, whatever else the catalog and the client cost.",
        f"catalog RSS during uploads and downloads: at start {_median_spread(t.rss_start_mb)} MB, "
        f"peak {_median_spread(t.rss_peak_mb)} MB, largest rise {num(worst_growth, 1)} MB",
        f"catalog CPU per GB (user+system, all threads; unlike the rates, not skewed by other load): {cpu_per_gb}",
        f"client (this process) CPU per GB, the same way: {client_cpu_per_gb}",
        "",
    ]
    for path in (UPLOAD, DOWNLOAD):
        ratio = ratios[path]
        lines.append(
            f"{path} rate / file copy rate (medians): {num(ratio * 100, 0)} %   (goal >= "
            f"{GOAL_TRANSFER_RATIO * 100:.0f} %: "
            f"{verdict(ratio, GOAL_TRANSFER_RATIO, at_least=True, scale=100, unit=' points')})"
        )
    lines.append(
        f"catalog RSS rise during a transfer, worst: {num(worst_growth, 1)} MB   (goal < {GOAL_RSS_GROWTH_MB:.0f} MB, "
        f"flat: {verdict(worst_growth, GOAL_RSS_GROWTH_MB, at_least=False, unit=' MB')})"
    )
    return lines


def _transfer_paths(t: TransferFigures) -> list[str]:
    """The transfer paths measured (curl's only when curl was found), in the order they are reported."""
    return [path for path in (UPLOAD, DOWNLOAD, CURL_UPLOAD, CURL_DOWNLOAD, CURL_SERVED) if t.seconds.get(path)]


def _cpu_per_gb(t: TransferFigures, seconds: dict[str, list[float]]) -> str:
    per_gb = {path: [s * 1e9 / t.size_bytes for s in seconds.get(path, [])] for path in _transfer_paths(t)}
    return ", ".join(f"{path} {_median_spread(values)} s" for path, values in per_gb.items())
