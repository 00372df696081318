"""Rows into text chunks: what gets indexed of a dataset row, and how long cells are cut.

Nia anchors every chunk to a row (`split`, `row_index`); it does not publish how a row becomes
text. Ours: each indexable column as a `name: value` line, in schema order. Text columns go in
whole; numbers, booleans and dates as their value; lists and structs as compact JSON when they
are small (they often hold text, e.g. chat `messages`); binary and media columns are described
(`image: <binary, 48,213 bytes>`) rather than dumped, since their bytes are not searchable text.
A row whose text is longer than `max_chars` is cut into windows of `max_chars` that overlap by
`overlap` characters, each cut moved back to a word boundary so that no word is split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import orjson
import pyarrow as pa

DEFAULT_MAX_CHARS = 1000
DEFAULT_OVERLAP = 100
# A nested value longer than this as JSON is described instead: it is rarely prose and would crowd out the rest.
MAX_NESTED_JSON = 4000


class ColumnKind(StrEnum):
    TEXT = "text"
    SCALAR = "scalar"
    NESTED = "nested"
    BINARY = "binary"


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # as the Hub's `features` would say it: string, int64, list<string>, binary...
    kind: ColumnKind


def _kind(t: pa.DataType) -> ColumnKind:
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return ColumnKind.TEXT
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return ColumnKind.BINARY
    if pa.types.is_struct(t) and any(_kind(f.type) is ColumnKind.BINARY for f in t):
        return ColumnKind.BINARY  # the `datasets` Image/Audio features: {bytes, path}
    if pa.types.is_nested(t):
        return ColumnKind.NESTED
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    return ColumnKind.SCALAR


def columns_of(schema: pa.Schema) -> list[Column]:
    return [Column(f.name, str(f.type), _kind(f.type)) for f in schema]


def _binary_size(value: object) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, dict):
        return sum(_binary_size(v) for v in value.values())
    return 0


def _cell_text(column: Column, value: object) -> str | None:
    if value is None:
        return None
    if column.kind is ColumnKind.TEXT:
        return str(value) if value != "" else None
    if column.kind is ColumnKind.BINARY:
        return f"<binary, {_binary_size(value):,} bytes>"
    if column.kind is ColumnKind.NESTED:
        text = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        return text if len(text) <= MAX_NESTED_JSON else f"<{column.dtype}, {len(text):,} characters of JSON>"
    return str(value)


def row_text(columns: list[Column], row: dict[str, object]) -> str:
    """One row as text: a `name: value` line per column that has something to say."""
    lines = []
    for column in columns:
        text = _cell_text(column, row.get(column.name))
        if text is not None:
            lines.append(f"{column.name}: {text}")
    return "\n".join(lines)


def split_text(text: str, max_chars: int = DEFAULT_MAX_CHARS, overlap: int = DEFAULT_OVERLAP) -> Iterator[str]:
    """Windows of at most `max_chars` characters, each starting `overlap` characters before the last one ended."""
    if max_chars <= overlap:
        raise ValueError(f"max_chars ({max_chars}) must be larger than overlap ({overlap})")
    if len(text) <= max_chars:
        if text:
            yield text
        return
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            # Back to the last white space in the window's second half, so that no word is cut in two.
            cut = text.rfind(" ", start + max_chars // 2, end)
            cut = max(cut, text.rfind("\n", start + max_chars // 2, end))
            if cut > start:
                end = cut
        yield text[start:end].strip()
        if end >= len(text):
            return
        next_start = end - overlap
        space = text.find(" ", next_start, end)
        start = space + 1 if space != -1 else next_start


@dataclass(frozen=True)
class Chunk:
    split: str
    row_index: int  # the row's index in its split, as Nia's reads and grep hits give it
    chunk_index: int  # 0, 1, ... within the row
    text: str


def chunks_of_batch(
    batch: pa.RecordBatch | pa.Table,
    columns: list[Column],
    *,
    split: str,
    first_row: int,
    rows: list[int] | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap: int = DEFAULT_OVERLAP,
) -> Iterator[Chunk]:
    """The chunks of a row group read from a split's shard whose first row is `first_row` in the split.

    `rows`: offsets within the batch to keep (sampling); all rows when None.
    """
    wanted = [c.name for c in columns]
    data = batch.select(wanted).to_pylist() if rows is None else batch.select(wanted).take(rows).to_pylist()
    offsets = rows if rows is not None else range(len(data))
    for offset, row in zip(offsets, data, strict=True):
        text = row_text(columns, row)
        for i, piece in enumerate(split_text(text, max_chars, overlap)):
            yield Chunk(split, first_row + offset, i, piece)
