"""Rows of CSV, JSON Lines and JSON files, read in batches, written as parquet shards of bounded size.

Plain, blocking functions (the worker runs them in a thread). Memory stays bounded by the batch and
row-group sizes, whatever the size of the files: CSV is streamed by pyarrow's incremental reader, JSON Lines
is cut into blocks on line ends and each block parsed on its own, and the shard being written is rolled
over once it reaches `max_shard_bytes`. Only a `.json` file that is one JSON document (an array of rows,
as `datasets` reads it) has to be parsed whole, and that only up to `max_json_document_bytes`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}


class ConversionError(Exception):
    """A source file could not be read as rows of one table: the message says which file and why."""


@dataclass(frozen=True)
class Limits:
    block_bytes: int = 4 * 1024 * 1024
    """How much of a file is parsed at a time (a CSV block, a run of JSON lines)."""
    max_shard_bytes: int = 256 * 1024 * 1024
    """A shard is closed, and the next one begun, once it is this large."""
    max_json_document_bytes: int = 64 * 1024 * 1024
    """A `.json` file that is not JSON Lines is parsed whole: larger ones are refused."""


def file_format(path: str) -> str | None:
    return FORMATS.get(Path(path).suffix.lower())


def batches(path: Path, fmt: str, limits: Limits) -> Iterator[pa.RecordBatch]:
    """The rows of one file, a batch at a time."""
    if fmt in ("csv", "tsv"):
        yield from _csv_batches(path, "\t" if fmt == "tsv" else ",", limits)
    elif fmt == "jsonl":
        yield from _json_lines_batches(path, limits)
    else:
        yield from _json_batches(path, limits)


def _csv_batches(path: Path, delimiter: str, limits: Limits) -> Iterator[pa.RecordBatch]:
    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=limits.block_bytes),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter),
    )
    yield from reader


def _line_blocks(path: Path, block_bytes: int) -> Iterator[bytes]:
    """The file in pieces of about `block_bytes`, each ending at a line end."""
    with path.open("rb") as src:
        rest = b""
        while chunk := src.read(block_bytes):
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data  # one line longer than a block: keep reading until it ends
                continue
            rest = data[cut:]
            yield data[:cut]
        if rest.strip():
            yield rest


def _json_lines_batches(path: Path, limits: Limits) -> Iterator[pa.RecordBatch]:
    schema: pa.Schema | None = None
    for block in _line_blocks(path, limits.block_bytes):
        if not block.strip():
            continue
        options = pa_json.ParseOptions(explicit_schema=schema) if schema is not None else None
        table = pa_json.read_json(pa.BufferReader(block), parse_options=options)
        schema = schema or table.schema  # later blocks are read as the first one was, or fail saying why
        yield from table.to_batches()


def _json_batches(path: Path, limits: Limits) -> Iterator[pa.RecordBatch]:
    """A `.json` file: JSON Lines when it reads as such, else one document holding the rows."""
    try:
        yield from _json_lines_batches(path, limits)
        return
    except pa.ArrowInvalid:
        pass
    size = path.stat().st_size
    if size > limits.max_json_document_bytes:
        raise ConversionError(
            f"not JSON Lines, and as one JSON document it is {size} bytes, over the "
            f"{limits.max_json_document_bytes} bytes that are parsed whole"
        )
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConversionError(f"neither JSON Lines nor one JSON document: {exc}") from None
    rows = _rows_of(document)
    try:
        yield from pa.Table.from_pylist(rows).to_batches(max_chunksize=10_000)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ConversionError(f"its rows do not form one table: {exc}") from None


def _rows_of(document: object) -> list[dict[str, object]]:
    """An array of objects, one per row (a single object is a one-line JSON Lines file, read before)."""
    if isinstance(document, list) and all(isinstance(row, dict) for row in document):
        return document  # type: ignore[return-value]
    raise ConversionError("a JSON document must be an array of objects, one per row")


class ShardWriter:
    """Parquet shards `0000.parquet`, `0001.parquet`, ... in `folder`, each closed once it is large enough.

    Every batch is cast to the first batch's schema, so the shards of a split form one table; a batch
    that cannot be raises ConversionError.
    """

    def __init__(self, folder: Path, limits: Limits) -> None:
        self.folder = folder
        self.limits = limits
        self.shards: list[Path] = []
        self.rows = 0
        self.schema: pa.Schema | None = None
        self._writer: pq.ParquetWriter | None = None
        self._sink: pa.OSFile | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self.schema is None:
            self.schema = batch.schema
        elif batch.schema != self.schema:
            try:
                batch = pa.Table.from_batches([batch]).cast(self.schema).to_batches()[0]
            except (pa.ArrowException, ValueError, IndexError) as exc:
                raise ConversionError(f"its columns differ from the split's first file: {exc}") from None
        if self._writer is None:
            path = self.folder / f"{len(self.shards):04d}.parquet"
            self._sink = pa.OSFile(str(path), "wb")
            self._writer = pq.ParquetWriter(self._sink, self.schema)
            self.shards.append(path)
        self._writer.write_batch(batch)
        self.rows += batch.num_rows
        if self._sink is not None and self._sink.tell() >= self.limits.max_shard_bytes:
            self._close_shard()

    def close(self) -> list[Path]:
        """The shards written (one, empty, when there were no rows but a schema)."""
        self._close_shard()
        return self.shards

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._sink is not None:
            self._sink.close()
            self._sink = None


def convert_split(sources: list[tuple[str, Path]], folder: Path, limits: Limits) -> list[Path]:
    """The rows of `sources` ((repo path, local copy), in order) as parquet shards in `folder`.

    Raises ConversionError naming the first file that could not be read.
    """
    folder.mkdir(parents=True, exist_ok=True)
    writer = ShardWriter(folder, limits)
    try:
        for repo_path, local in sources:
            fmt = file_format(repo_path)
            if fmt is None:
                raise ConversionError(f"{repo_path}: not a CSV, JSON Lines or JSON file")
            try:
                for batch in batches(local, fmt, limits):
                    writer.write(batch)
            except ConversionError as exc:
                raise ConversionError(f"{repo_path}: {exc}") from None
            except (pa.ArrowException, UnicodeDecodeError) as exc:
                raise ConversionError(f"{repo_path}: cannot be read as {fmt.upper()}: {exc}") from None
    finally:
        shards = writer.close()
    if writer.schema is None:
        raise ConversionError(f"{', '.join(p for p, _ in sources)}: no rows")
    return shards
