"""`hubstream bench ingest`: index a 2M-row parquet corpus end to end, beside two baselines, and search it.

Phases, each repeated `--rounds` times (median and spread printed, the verdict on the median):
- hubstream: the ingest worker's own code (RunExecutor) in a process of its own, reading the shards
  over HTTP from a static catalog, chunking, committing to tantivy and checkpointing in PostgreSQL
  per row group; sampling off, keyword mode;
- (a) tantivy direct: the same shards read with pyarrow and loaded into tantivy with the same
  schema, writer settings, commit per row group and text per row, no service around it;
- (b) PostgreSQL FTS: the same rows COPYed, one transaction per row group, into a table with a
  generated tsvector and a GIN index.
Then keyword search latency (top 10, one client, sequential) on the indexed corpus, for two-word
queries and one-common-word queries (a word in 5 % of the rows), beside PostgreSQL FTS on (b)
(at most --pg-queries of each kind there: a common word costs PostgreSQL seconds on millions of rows);
then hybrid search over a 100K-row source and the embedder's rate beside the bare model
(bench/ingest/semantic_phase.py).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import orjson
import pyarrow.parquet as pq

from bench.events.infra import fresh_database, is_local_database, throwaway_postgres
from bench.ingest import corpus as corpora
from bench.ingest import semantic_phase
from bench.ingest.static_catalog import serving
from bench.running import say
from services.ingest.chunk_store import TantivyStore
from services.runtime.settings import InfraSettings

DATASET = "bench/corpus"
GOAL_OF_DIRECT = 0.70
GOAL_OVER_POSTGRES = 2.5
GOAL_RSS_MB = 500.0
GOAL_KEYWORD_P99_MS = 50.0
GOAL_COMMON_VS_POSTGRES = 0.10
TANTIVY = "tantivy (hubstream)"
POSTGRES_FTS = "PostgreSQL FTS (b)"


@dataclass
class Load:
    name: str
    rows_per_second: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    peak_anon_mb: list[float] = field(default_factory=list)  # the heap part of it (bench/ingest/memory.py)
    peak_file_mb: list[float] = field(default_factory=list)  # mapped files: tantivy's segments, libraries

    @property
    def measured(self) -> bool:
        return bool(self.rows_per_second)

    def median(self) -> float:
        return statistics.median(self.rows_per_second)

    def spread(self) -> str:
        return f"{min(self.rows_per_second):,.0f}-{max(self.rows_per_second):,.0f}"

    def row(self) -> str:
        if not self.measured:
            return f"{self.name:<58} {'not run (--phases)':>29}"

        def mb(values: list[float]) -> str:
            return f"{statistics.median(values):,.0f}" if values else "-"

        return (
            f"{self.name:<58} {self.median():>10,.0f}  {self.spread():<17} {mb(self.peak_rss_mb):>11} "
            f"{mb(self.peak_anon_mb):>6} {mb(self.peak_file_mb):>6}"
        )


PHASES = ("hubstream", "direct", "postgres", "search", "semantic")


def _phases(text: str) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [p for p in wanted if p not in PHASES]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"{','.join(unknown) or 'none'}: phases are {','.join(PHASES)}")
    return wanted


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hubstream bench ingest", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--shard-rows", type=int, default=250_000)
    parser.add_argument("--row-group-rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind in the search phase")
    parser.add_argument(
        "--pg-queries", type=int, default=50, help="at most this many PostgreSQL FTS queries of each kind"
    )
    parser.add_argument("--embed-chunks", type=int, default=768, help="chunks embedded per round (with the extra)")
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        help="where the shards are kept between runs (default: under the state directory, HUBSTREAM_HOME/bench/, "
        "named for --rows, --shard-rows and --row-group-rows; delete it to get the space back)",
    )
    parser.add_argument("--database-url", help="a PostgreSQL on this machine (default: a throw-away server)")
    parser.add_argument(
        "--phases",
        type=_phases,
        default=PHASES,
        help=f"comma-separated phases to run (default: all of {','.join(PHASES)}); the goals of a skipped phase "
        "print as not measured. `search` needs `hubstream` (it searches the worker's index)",
    )
    args = parser.parse_args(argv)
    if "search" in args.phases and "hubstream" not in args.phases:
        parser.error("--phases: search needs hubstream (it searches the index the worker built)")
    if args.database_url and not is_local_database(args.database_url):
        parser.error("--database-url: only a PostgreSQL server on this machine is allowed")
    if min(args.rows, args.shard_rows, args.row_group_rows, args.rounds, args.queries, args.pg_queries) < 1:
        parser.error("--rows, --shard-rows, --row-group-rows, --rounds, --queries and --pg-queries must be positive")
    return args


def _run_json(command: list[str]) -> dict:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed:\n{result.stderr[-3000:]}")
    return orjson.loads(result.stdout.strip().splitlines()[-1])


async def hubstream_round(database_url: str, catalog_url: str, work: Path) -> dict:
    chunk_dir = work / "chunks"
    return await asyncio.to_thread(
        _run_json,
        [
            sys.executable,
            "-m",
            "bench.ingest.worker_phase",
            "--database-url",
            database_url,
            "--catalog-url",
            catalog_url,
            "--chunk-dir",
            str(chunk_dir),
            "--dataset",
            DATASET,
        ],
    )


async def direct_round(corpus: corpora.Corpus, work: Path) -> dict:
    index_dir = work / "direct"
    shutil.rmtree(index_dir, ignore_errors=True)
    return await asyncio.to_thread(
        _run_json,
        [
            sys.executable,
            "-m",
            "bench.ingest.direct_phase",
            "--index-dir",
            str(index_dir),
            *(str(p) for p in corpus.shards),
        ],
    )


POSTGRES_TABLE = """
CREATE TABLE fts (
    id bigint, split text, row_index bigint, chunk int, text text,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX fts_tsv ON fts USING gin (tsv);
"""


async def postgres_round(database_url: str, corpus: corpora.Corpus) -> dict:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DROP TABLE IF EXISTS fts")
        await conn.execute(POSTGRES_TABLE)
        started = time.perf_counter()
        row = 0
        for path in corpus.shards:
            parquet = pq.ParquetFile(path)
            for rg in range(parquet.metadata.num_row_groups):
                table = parquet.read_row_group(rg)
                records = []
                for id_, text, label in zip(
                    table.column("id").to_pylist(),
                    table.column("text").to_pylist(),
                    table.column("label").to_pylist(),
                    strict=True,
                ):
                    records.append((id_, "train", row, 0, f"id: {id_}\ntext: {text}\nlabel: {label}"))
                    row += 1
                async with conn.transaction():
                    await conn.copy_records_to_table(
                        "fts", records=records, columns=["id", "split", "row_index", "chunk", "text"]
                    )
        return {"seconds": time.perf_counter() - started, "rows": row}
    finally:
        await conn.close()


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


async def search_latencies(
    chunk_dir: Path, index: str, database_url: str | None, corpus: corpora.Corpus, n: int, pg_n: int
) -> dict[str, dict[str, tuple[float, float]]]:
    """p50/p99 per kind of query on the worker's index; on PostgreSQL's table too when `database_url` has it."""
    store = TantivyStore(chunk_dir)
    kinds = {
        "two words": corpus.two_word_queries(n),
        "one common word": [corpora.MARKERS[i % len(corpora.MARKERS)] for i in range(n)],
    }
    found: dict[str, dict[str, tuple[float, float]]] = {TANTIVY: {}}
    conn = await asyncpg.connect(database_url) if database_url else None
    try:
        for kind, queries in kinds.items():
            for q in queries[:10]:
                store.search([index], q, 10)  # warm the index's files into the page cache
            samples = []
            for q in queries:
                started = time.perf_counter()
                hits = store.search([index], q, 10)
                samples.append(time.perf_counter() - started)
                assert hits, f"no hit for {q!r}"
            found[TANTIVY][kind] = _percentiles(samples)
            if conn is None:
                continue
            sql = """SELECT row_index FROM fts WHERE tsv @@ websearch_to_tsquery('english', $1)
                     ORDER BY ts_rank(tsv, websearch_to_tsquery('english', $1)) DESC LIMIT 10"""
            pg_queries = queries[: min(n, pg_n)]
            for q in pg_queries[:3]:
                await conn.fetch(sql, q)
            samples = []
            for q in pg_queries:
                started = time.perf_counter()
                await conn.fetch(sql, q)
                samples.append(time.perf_counter() - started)
            say(f"PostgreSQL FTS: {len(samples)} {kind} queries ran (of {n} on tantivy; --pg-queries bounds them)")
            found.setdefault(POSTGRES_FTS, {})[kind] = _percentiles(samples)
    finally:
        if conn is not None:
            await conn.close()
    return found


def _done(result: dict) -> str:
    """A phase's figures as soon as it ends (a 2M-row round takes minutes)."""
    line = f"  {result['rows']:,} rows in {result['seconds']:,.0f} s: {result['rows'] / result['seconds']:,.0f} rows/s"
    if "peak_rss_mb" in result:
        line += (
            f", peak RSS {result['peak_rss_mb']:,.0f} MB (at most {result['peak_anon_mb']:,.0f} MB anon, "
            f"{result['peak_file_mb']:,.0f} MB file)"
        )
    return line


def verdict(ok: bool | None) -> str:
    return "NOT MEASURED (its phase was skipped: --phases)" if ok is None else "MET" if ok else "MISSED"


Check = tuple[str, bool | None]  # a goal's line and its verdict; None: not measured


def _load_checks(hub: Load, direct: Load, pg: Load) -> list[Check]:
    rate = f"goal ≥ {GOAL_OF_DIRECT:.0%}"
    if hub.measured and direct.measured:
        of_direct = hub.median() / direct.median()
        checks: list[Check] = [
            (f"hubstream at {of_direct:.0%} of tantivy direct ({rate})", of_direct >= GOAL_OF_DIRECT)
        ]
    else:
        checks = [(f"hubstream rows/s against tantivy direct ({rate})", None)]
    if hub.measured and pg.measured:
        over_pg = hub.median() / pg.median()
        checks.append(
            (f"hubstream {over_pg:.1f}x PostgreSQL FTS (goal ≥ {GOAL_OVER_POSTGRES}x)", over_pg >= GOAL_OVER_POSTGRES)
        )
    else:
        checks.append((f"hubstream rows/s against PostgreSQL FTS (goal ≥ {GOAL_OVER_POSTGRES}x)", None))
    if hub.measured:
        rss = statistics.median(hub.peak_rss_mb)
        checks.append((f"worker peak RSS {rss:,.0f} MB (goal < {GOAL_RSS_MB:.0f} MB)", rss < GOAL_RSS_MB))
    else:
        checks.append((f"worker peak RSS (goal < {GOAL_RSS_MB:.0f} MB)", None))
    return checks


def _search_checks(search: dict[str, dict[str, tuple[float, float]]], queries: tuple[int, int]) -> list[Check]:
    keyword_goal = f"goal < {GOAL_KEYWORD_P99_MS:.0f} ms"
    common_goal = f"goal ≤ {GOAL_COMMON_VS_POSTGRES}"
    if not search:
        return [
            (f"keyword p99 ({keyword_goal})", None),
            (f"common-word p99 against PostgreSQL's ({common_goal})", None),
        ]
    print()
    print(f"{'search, top 10':<24} {'two words p50 / p99 ms':>24} {'one common word p50 / p99 ms':>30}")
    for engine, kinds in search.items():
        two, common = kinds["two words"], kinds["one common word"]
        print(f"{engine:<24} {two[0]:>13.2f} / {two[1]:<8.2f} {common[0]:>19.2f} / {common[1]:<8.2f}")
    hub_search = search[TANTIVY]
    keyword_p99 = max(hub_search["two words"][1], hub_search["one common word"][1])
    checks: list[Check] = [(f"keyword p99 {keyword_p99:.2f} ms ({keyword_goal})", keyword_p99 < GOAL_KEYWORD_P99_MS)]
    if POSTGRES_FTS in search:
        print(f"({queries[0]} queries of each kind on tantivy, {queries[1]} on PostgreSQL: --pg-queries bounds them)")
        common_ratio = hub_search["one common word"][1] / search[POSTGRES_FTS]["one common word"][1]
        checks.append(
            (
                f"common-word p99 at {common_ratio:.3f} of PostgreSQL's ({common_goal})",
                common_ratio <= GOAL_COMMON_VS_POSTGRES,
            )
        )
    else:
        checks.append((f"common-word p99 against PostgreSQL's ({common_goal})", None))
    return checks


def report(
    loads: list[Load],
    search: dict[str, dict[str, tuple[float, float]]],
    rows: int,
    semantic: semantic_phase.Semantic | None,
    queries: tuple[int, int],
) -> bool:
    """Print the figures and a verdict per goal; True when every goal measured was met."""
    hub, direct, pg = loads
    rounds = max(len(load.rows_per_second) for load in loads)
    print(f"\ningest bench: {rows:,} rows, {rounds} rounds per phase (median, min-max)\n")
    print(f"{'phase':<58} {'rows/s':>10}  {'spread':<17} {'peak RSS MB':>11} {'anon':>6} {'file':>6}")
    for load in loads:
        print(load.row())
    print(
        "(peak RSS: the process's own high-water mark, from its start; anon (heap) and file (mapped index files and\n"
        " libraries) are each one's largest sample, taken every 50 ms)"
    )
    checks = _load_checks(hub, direct, pg) + _search_checks(search, queries)
    if semantic is not None:
        checks += semantic_phase.report(semantic)
    else:
        checks += [
            (f"hybrid p99 (goal < {semantic_phase.GOAL_HYBRID_P99_MS:.0f} ms)", None),
            (f"embedding against the bare model (goal ≥ {semantic_phase.GOAL_EMBED_OF_BARE:.0%})", None),
        ]
    print()
    for text, ok in checks:
        print(f"goal: {text}: {verdict(ok)}")
    return all(ok is not False for _, ok in checks)


def corpus_folder(args: argparse.Namespace) -> Path:
    """--corpus-dir, or a folder under the state directory named for what makes the corpus, kept between runs."""
    if args.corpus_dir:
        return args.corpus_dir
    home = InfraSettings().home
    return home / "bench" / corpora.folder_name(args.rows, args.shard_rows, args.row_group_rows)


def _record(load: Load, result: dict) -> None:
    load.rows_per_second.append(result["rows"] / result["seconds"])
    if "peak_rss_mb" in result:
        load.peak_rss_mb.append(result["peak_rss_mb"])
        load.peak_anon_mb.append(result["peak_anon_mb"])
        load.peak_file_mb.append(result["peak_file_mb"])
    say(_done(result))


async def run(args: argparse.Namespace) -> int:
    phases = set(args.phases)
    async with AsyncExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="hubstream-bench-ingest-"))
        stack.callback(shutil.rmtree, work, True)
        corpus_dir = corpus_folder(args)
        say(f"the corpus ({args.rows:,} rows) in {corpus_dir}: written unless it is there already")
        started = time.perf_counter()
        corpus = await asyncio.to_thread(corpora.make, corpus_dir, args.rows, args.shard_rows, args.row_group_rows)
        size, seconds = sum(p.stat().st_size for p in corpus.shards), time.perf_counter() - started
        say(f"corpus: {len(corpus.shards)} shards, {size / 1e6:,.0f} MB of parquet (ready in {seconds:,.0f} s)")
        server = args.database_url or await stack.enter_async_context(throwaway_postgres())
        catalog = await stack.enter_async_context(serving(corpus_dir))
        catalog.datasets[DATASET] = {"default": {"train": [p.name for p in corpus.shards]}}
        hub = Load("hubstream worker: HTTP → chunks → tantivy + checkpoints")
        direct = Load("(a) tantivy direct: pyarrow → tantivy, no service")
        pg = Load("(b) PostgreSQL: COPY → generated tsvector + GIN")
        search: dict[str, dict[str, tuple[float, float]]] = {}
        semantic: semantic_phase.Semantic | None = None
        last_hub: dict = {}
        for n in range(1, args.rounds + 1):
            async with fresh_database(server) as database_url:
                if "hubstream" in phases:
                    say(f"round {n}: hubstream")
                    last_hub = await hubstream_round(database_url, catalog.url, work / f"round{n}")
                    _record(hub, last_hub)
                if "direct" in phases:
                    say(f"round {n}: tantivy direct")
                    _record(direct, await direct_round(corpus, work))
                if "postgres" in phases:
                    say(f"round {n}: PostgreSQL COPY + GIN")
                    _record(pg, await postgres_round(database_url, corpus))
                if n == args.rounds and "search" in phases:
                    say("search latencies")
                    search = await search_latencies(
                        work / f"round{n}" / "chunks",
                        last_hub["index"],
                        database_url if "postgres" in phases else None,
                        corpus,
                        args.queries,
                        args.pg_queries,
                    )
                if n == args.rounds and "semantic" in phases:
                    say("hybrid search and embedding")
                    semantic = await semantic_phase.measure(
                        args.rounds, args.queries, args.embed_chunks, corpus, work, database_url
                    )
            if n < args.rounds:
                shutil.rmtree(work / f"round{n}", ignore_errors=True)
        ok = report([hub, direct, pg], search, args.rows, semantic, (args.queries, min(args.queries, args.pg_queries)))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))
