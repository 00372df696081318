"""The conversion benchmark's entry point, phases and printed table (see bench/convert/__init__.py)."""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.events.report import spread
from bench.running import say

GOAL_THROUGHPUT_RATIO = 0.5
PHASES = ("ours", "baseline")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="hubstream bench convert",
        description="CSV -> parquet: the catalog worker's streamed, sharded conversion against read-all-then-write.",
    )
    p.add_argument("--mb", type=int, default=100, help="size of the generated CSV, in MB")
    p.add_argument("--repeat", type=int, default=3, help="runs of each phase")
    p.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)  # a child process: one run of one phase
    p.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def write_csv(path: Path, megabytes: int) -> int:
    """A CSV of about `megabytes` MB; its row count."""
    rows = 0
    with path.open("w") as out:
        out.write("id,text,score,label\n")
        while out.tell() < megabytes * 1_000_000:
            lines = []
            for i in range(rows, rows + 10_000):
                digest = hashlib.sha256(str(i).encode()).hexdigest()
                lines.append(f"{i},{digest} {digest[:20]},{i * 0.001:.3f},{i % 7}\n")
            out.write("".join(lines))
            rows += 10_000
    return rows


def run_phase(phase: str, source: Path) -> dict[str, float]:
    """One conversion in this process: seconds, rows and peak RSS (MiB)."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from services.catalog.convert_rows import Limits, convert_split

    with tempfile.TemporaryDirectory(prefix="bench-convert-") as out:
        start = time.perf_counter()
        if phase == "ours":
            shards = convert_split([("data/train.csv", source)], Path(out), Limits())
        else:
            pq.write_table(pa_csv.read_csv(source), Path(out) / "0000.parquet")
            shards = [Path(out) / "0000.parquet"]
        seconds = time.perf_counter() - start
        rows = sum(pq.ParquetFile(s).metadata.num_rows for s in shards)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"seconds": seconds, "rows": rows, "peak_rss_mib": peak_mib, "shards": len(shards)}


def child(phase: str, source: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.convert", "--phase", phase, "--source", str(source)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.phase:
        print(json.dumps(run_phase(args.phase, args.source)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-convert-src-") as folder:
        source = Path(folder) / "train.csv"
        say(f"writing a {args.mb} MB CSV")
        rows = write_csv(source, args.mb)
        results: dict[str, list[dict[str, float]]] = {phase: [] for phase in PHASES}
        for n in range(args.repeat):
            for phase in PHASES:  # alternated, so a slow moment of a shared machine hits both
                say(f"round {n + 1}/{args.repeat}: {phase}")
                results[phase].append(child(phase, source))
    print(f"CSV -> parquet, {args.mb} MB, {rows} rows; median (min-max) of {args.repeat} runs, each a fresh process")
    print(f"{'phase':<10} {'rows/s':>28} {'MB/s':>22} {'peak RSS MiB':>24} {'shards':>7}")
    rates: dict[str, list[float]] = {}
    for phase, runs in results.items():
        rates[phase] = [r["rows"] / r["seconds"] for r in runs]
        mbps = [args.mb / r["seconds"] for r in runs]
        print(
            f"{phase:<10} {spread(rates[phase], 0):>28} {spread(mbps, 1):>22} "
            f"{spread([r['peak_rss_mib'] for r in runs], 0):>24} {int(runs[0]['shards']):>7}"
        )
    ratio = sorted(rates["ours"])[len(rates["ours"]) // 2] / sorted(rates["baseline"])[len(rates["baseline"]) // 2]
    met = "met" if ratio >= GOAL_THROUGHPUT_RATIO else "NOT met"
    print(f"ours / baseline throughput: {ratio * 100:.0f} % (goal >= {GOAL_THROUGHPUT_RATIO * 100:.0f} %: {met})")
    return 0
