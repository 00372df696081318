"""CSV, JSON Lines and JSON rows as parquet shards: batches, bounded shards, one schema per split, clear errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from services.catalog.convert_rows import ConversionError, Limits, convert_split

SMALL = Limits(block_bytes=4096, max_shard_bytes=16 * 1024, max_json_document_bytes=1024 * 1024)


def rows_of(shards: list[Path]) -> list[dict[str, object]]:
    return [row for shard in shards for row in pq.read_table(shard).to_pylist()]


def test_csv_is_streamed_into_shards_of_bounded_size(tmp_path: Path) -> None:
    source = tmp_path / "train.csv"
    # Hex digests: text that neither dictionary encoding nor compression shrinks much.
    rows = [{"text": hashlib.sha256(str(i).encode()).hexdigest(), "label": i % 3} for i in range(3000)]
    source.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows))
    shards = convert_split([("data/train.csv", source)], tmp_path / "out", SMALL)
    assert len(shards) > 3, "a source far larger than a shard is split over several"
    assert [s.name for s in shards] == [f"{n:04d}.parquet" for n in range(len(shards))]
    # A shard closes at the first batch past the bound: no shard is much larger than bound + one block's rows.
    assert max(s.stat().st_size for s in shards) < SMALL.max_shard_bytes + 8 * SMALL.block_bytes
    assert rows_of(shards) == rows


def test_json_lines_and_json_arrays_read_as_one_split(tmp_path: Path) -> None:
    lines = tmp_path / "a.jsonl"
    lines.write_text("".join(json.dumps({"q": f"l{i}", "n": i}) + "\n" for i in range(500)))
    array = tmp_path / "b.json"
    array.write_text(json.dumps([{"q": "array", "n": 1000}]))
    one_line = tmp_path / "c.json"
    one_line.write_text(json.dumps({"q": "one line", "n": 1001}))
    sources = [("a.jsonl", lines), ("b.json", array), ("c.json", one_line)]
    shards = convert_split(sources, tmp_path / "out", SMALL)
    assert rows_of(shards) == [{"q": f"l{i}", "n": i} for i in range(500)] + [
        {"q": "array", "n": 1000},
        {"q": "one line", "n": 1001},
    ]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("broken.csv", 'a,b\n1,2\n3,4,5\n"unterminated\n', "cannot be read as CSV"),
        ("broken.jsonl", '{"a": 1}\n{"a": \n', "cannot be read as JSONL"),
        ("broken.json", '{"a": ', "neither JSON Lines nor one JSON document"),
        ("numbers.json", "[1, 2, 3]", "array of objects"),
    ],
)
def test_a_file_that_cannot_be_read_is_named_with_the_reason(
    tmp_path: Path, name: str, content: str, words: str
) -> None:
    source = tmp_path / name
    source.write_text(content)
    with pytest.raises(ConversionError) as failed:
        convert_split([(f"data/{name}", source)], tmp_path / "out", SMALL)
    assert str(failed.value).startswith(f"data/{name}: ")
    assert words in str(failed.value)


def test_files_of_one_split_whose_columns_clash_are_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    first.write_text('{"a": 1}\n')
    second.write_text('{"a": "not a number"}\n')
    with pytest.raises(ConversionError, match="columns differ"):
        convert_split([("1.jsonl", first), ("2.jsonl", second)], tmp_path / "out", SMALL)
