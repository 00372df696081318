"""The ingest pipeline's parts on real data: parquet shards served over real HTTP, a real tantivy index."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import pytest_asyncio
from aiohttp import web

from services.ingest import sampling
from services.ingest.chunk_store import TantivyStore
from services.ingest.chunking import Chunk, ColumnKind, chunks_of_batch, columns_of, row_text, split_text
from services.ingest.shards import ShardError, ShardReader, http_filesystem, plan_units

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]


def test_a_row_is_text_columns_whole_scalars_as_values_and_binary_described() -> None:
    table = pa.table(
        {
            "question": ["What is 2+2?"],
            "answer": [4],
            "messages": [[{"role": "user", "content": "hi"}]],
            "image": [{"bytes": b"\x89PNG" + b"\0" * 996, "path": "a.png"}],
            "empty": pa.array([None], pa.string()),
        }
    )
    columns = columns_of(table.schema)
    kinds = {c.name: c.kind for c in columns}
    assert kinds == {
        "question": ColumnKind.TEXT,
        "answer": ColumnKind.SCALAR,
        "messages": ColumnKind.NESTED,
        "image": ColumnKind.BINARY,
        "empty": ColumnKind.TEXT,
    }
    text = row_text(columns, table.to_pylist()[0])
    assert text.splitlines() == [
        "question: What is 2+2?",
        "answer: 4",
        'messages: [{"role":"user","content":"hi"}]',
        "image: <binary, 1,000 bytes>",
    ]


def test_long_text_is_cut_in_overlapping_windows_without_cutting_words() -> None:
    text = " ".join(WORDS[i % len(WORDS)] + str(i) for i in range(2000))
    pieces = list(split_text(text, max_chars=300, overlap=50))
    assert all(len(p) <= 300 for p in pieces)
    words = set(text.split())
    for piece in pieces:
        assert set(piece.split()) <= words  # every token is a whole word of the text
    for before, after in itertools.pairwise(pieces):
        assert before.split()[-1] in after.split()[:15]  # the windows overlap
    covered = set().union(*(p.split() for p in pieces))
    assert covered == words
    assert list(split_text("short", 300, 50)) == ["short"]
    assert list(split_text("", 300, 50)) == []


def test_chunks_are_anchored_to_their_row_in_the_split() -> None:
    batch = pa.table({"text": ["a b c " * 300, "short"]})
    chunks = list(chunks_of_batch(batch, columns_of(batch.schema), split="train", first_row=100, max_chars=500))
    assert {c.row_index for c in chunks} == {100, 101}
    assert [c.chunk_index for c in chunks if c.row_index == 100] == list(range(len(chunks) - 1))
    sampled = list(chunks_of_batch(batch, columns_of(batch.schema), split="train", first_row=100, rows=[1]))
    assert [(c.row_index, c.text) for c in sampled] == [(101, "text: short")]


@pytest.mark.parametrize(
    ("total", "strategy", "wanted"),
    [
        (199_999, "full", 199_999),
        (200_000, "sampled", 100_000),
        (2_000_000, "sampled", 100_000),
        (2_000_001, "sampled", 25_000),
    ],
)
def test_nias_sampling_thresholds(total: int, strategy: str, wanted: int) -> None:
    p = sampling.plan(total)
    assert (p.strategy, p.wanted_rows) == (strategy, wanted)
    assert sampling.plan(total, sampling=False).strategy == "full"


def test_a_sample_is_spread_evenly_and_the_same_every_time() -> None:
    p = sampling.plan(1_000_000)
    # The split read in row groups of 30,000 rows: the union of the picks is the sample.
    picked: list[int] = []
    for start in range(0, 1_000_000, 30_000):
        offsets = sampling.rows_in_range(p, start, min(start + 30_000, 1_000_000))
        assert offsets is not None
        picked += [start + o for o in offsets]
    assert len(picked) == 100_000
    assert picked == sorted(set(picked))
    gaps = {b - a for a, b in itertools.pairwise(picked)}
    assert gaps == {10}
    again = sampling.rows_in_range(p, 30_000, 60_000)
    assert again is not None
    assert [30_000 + o for o in again] == picked[3000:6000]
    assert sampling.rows_in_range(sampling.plan(10), 0, 10) is None


def test_the_store_ranks_by_bm25_and_replaces_a_unit_written_twice(tmp_path: Path) -> None:
    store = TantivyStore(tmp_path)
    writer = store.writer("src/run1")
    rows = [Chunk("train", i, 0, f"{WORDS[i % 12]} {WORDS[(i * 7) % 12]} common") for i in range(120)]
    assert writer.add("train/0/0", rows) == 120
    writer.commit()
    # A crash after the store's commit but before the checkpoint: the unit is written again, not doubled.
    writer.remove_unit("train/0/0")
    writer.add("train/0/0", rows)
    writer.commit()
    writer.close()
    assert store.count("src/run1") == 120
    hits = store.search(["src/run1"], "beta theta", 5)
    assert hits
    assert "beta" in hits[0].text
    assert "theta" in hits[0].text
    assert hits == sorted(hits, key=lambda h: -h.score)
    # Query syntax in user text is taken leniently, never an error.
    assert [h.row_index for h in store.search(["src/run1"], 'beta theta "unbalanced AND (', 5)][:1] == [
        hits[0].row_index
    ]
    assert store.search(["missing/run"], "alpha", 5) == []
    store.drop("src/run1")
    assert store.count("src/run1") == 0
    with pytest.raises(ValueError, match="leaves"):
        store.writer("../outside")


def _write_shard(path: Path, rows: int, start: int, row_group_size: int) -> None:
    table = pa.table(
        {
            "id": pa.array(range(start, start + rows), pa.int64()),
            "text": [
                f"row {i} " + " ".join(WORDS[(i + k) % 12] for k in range(40)) for i in range(start, start + rows)
            ],
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size)


class _ServedBytes:
    def __init__(self) -> None:
        self.total = 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest_asyncio.fixture
async def shard_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path, _ServedBytes]]:
    """A real HTTP server for a folder of shards (aiohttp's static files answer Range requests)."""
    served = _ServedBytes()

    async def count(request: web.Request, response: web.StreamResponse) -> None:
        if request.method == "GET":  # a HEAD says the size and sends nothing
            served.total += int(response.headers.get("Content-Length", 0))

    app = web.Application()
    app.on_response_prepare.append(count)
    app.router.add_static("/files", tmp_path)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/files", tmp_path, served
    await runner.cleanup()


async def test_shards_are_planned_from_footers_and_read_one_row_group_at_a_time(shard_server) -> None:  # type: ignore[no-untyped-def]
    base, folder, served = shard_server
    _write_shard(folder / "train-0.parquet", 5000, 0, 1000)
    _write_shard(folder / "train-1.parquet", 2500, 5000, 1000)
    _write_shard(folder / "test-0.parquet", 700, 0, 1000)
    fs = http_filesystem(None)
    shards = {
        ("default", "train"): [f"{base}/train-0.parquet", f"{base}/train-1.parquet"],
        ("default", "test"): [f"{base}/test-0.parquet"],
    }
    units, schema = await asyncio.to_thread(plan_units, fs, shards)
    assert [f.name for f in schema] == ["id", "text"]
    assert [(u.split, u.shard, u.row_group, u.first_row, u.num_rows) for u in units] == [
        *[("train", 0, rg, rg * 1000, 1000) for rg in range(5)],
        ("train", 1, 0, 5000, 1000),
        ("train", 1, 1, 6000, 1000),
        ("train", 1, 2, 7000, 500),
        ("test", 0, 0, 0, 700),
    ]
    shard_size = (folder / "train-0.parquet").stat().st_size
    served.total = 0
    reader = ShardReader(fs, block_size=16 * 1024)
    batches = await asyncio.to_thread(lambda: list(reader.batches(units[3], ["id", "text"], batch_rows=300)))
    reader.close()
    assert [b.num_rows for b in batches] == [300, 300, 300, 100]
    assert [i for b in batches for i in b.column("id").to_pylist()] == list(range(3000, 4000))
    # Range reads: the footer and one row group, not the shard.
    assert 0 < served.total < shard_size * 0.6


async def test_a_corrupt_or_different_shard_is_a_clear_error(shard_server) -> None:  # type: ignore[no-untyped-def]
    base, folder, _ = shard_server
    _write_shard(folder / "good.parquet", 100, 0, 50)
    good = (folder / "good.parquet").read_bytes()
    (folder / "truncated.parquet").write_bytes(good[: len(good) // 2])
    pq.write_table(pa.table({"other": [1, 2]}), folder / "other.parquet")
    fs = http_filesystem(None)
    with pytest.raises(ShardError, match=r"truncated\.parquet"):
        await asyncio.to_thread(plan_units, fs, {("default", "train"): [f"{base}/truncated.parquet"]})
    with pytest.raises(ShardError, match="unlike the other shards"):
        await asyncio.to_thread(
            plan_units, fs, {("default", "train"): [f"{base}/good.parquet", f"{base}/other.parquet"]}
        )
    with pytest.raises(ShardError, match="not found"):
        await asyncio.to_thread(plan_units, fs, {("default", "train"): [f"{base}/missing.parquet"]})
