"""Reading a dataset's parquet shards over HTTP, one row group at a time.

A shard is opened with fsspec's HTTP file system, which reads by `Range` requests in blocks, so
pyarrow fetches the footer, then only the column chunks of the row group asked for, a buffer at a
time, and decodes them in batches of `BATCH_ROWS` rows: memory stays bounded by a few blocks and one
decoded batch whatever the shard's or the row group's size. Decoding a whole row
group at once (50K rows of ~750 characters in the benchmark) held its text twice over, as arrow
buffers and as Python rows, ~80 MB more at the peak. pyarrow and fsspec do the parquet and HTTP work;
this module only decides what to read in which order.

The plan is made first from the footers alone (row groups and their row counts), so that a run
knows its total rows, applies the sampling rule, and numbers every row group as a unit of work
(the checkpoint is "units done").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

BLOCK_SIZE = 4 * 1024 * 1024
BATCH_ROWS = 8192  # rows decoded at a time within a row group
# pyarrow reads a column chunk this much at a time (its pages are decoded as they come). Unbuffered, it
# reads a row group's whole column chunk in one call (~30 MB of text in the benchmark's 50K-row groups),
# which fsspec fetched in one response and kept as its cache while pyarrow copied it: a row group held
# three copies of its compressed text at the peak. Buffered, fsspec fetches BLOCK_SIZE at a time.
READ_BUFFER = 1024 * 1024


class ShardError(Exception):
    """A shard that cannot be read as parquet (corrupt, truncated, not parquet); says which and why."""


@dataclass(frozen=True)
class Unit:
    """One row group of one shard: the unit of work and of the checkpoint."""

    config: str
    split: str
    shard: int  # position of the shard in its split's list
    url: str
    row_group: int
    first_row: int  # index in the split of the row group's first row
    num_rows: int

    @property
    def name(self) -> str:
        return f"{self.config}/{self.split}/{self.shard}/{self.row_group}"

    def as_json(self) -> dict:
        return asdict(self)


def http_filesystem(token: str | None) -> fsspec.AbstractFileSystem:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # skip_instance_cache: each worker's file system carries its own token.
    return fsspec.filesystem("http", headers=headers, skip_instance_cache=True)


@contextmanager
def open_shard(fs: fsspec.AbstractFileSystem, url: str, block_size: int = BLOCK_SIZE) -> Iterator[pq.ParquetFile]:
    try:
        with fs.open(url, mode="rb", block_size=block_size, cache_type="readahead") as f:
            try:
                yield pq.ParquetFile(f, buffer_size=READ_BUFFER)
            except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
                raise ShardError(f"{url} is not a readable parquet file: {exc}") from exc
    except FileNotFoundError as exc:
        raise ShardError(f"{url} was not found") from exc


def plan_units(fs: fsspec.AbstractFileSystem, shards: dict[tuple[str, str], list[str]]) -> tuple[list[Unit], pa.Schema]:
    """Every row group of every shard, in (config, split, shard, row group) order, and the common schema.

    Shards of one run must share a schema (the columns of the source); a shard that differs is an error.
    """
    units: list[Unit] = []
    schema: pa.Schema | None = None
    for (config, split), urls in shards.items():
        first_row = 0
        for shard, url in enumerate(urls):
            with open_shard(fs, url) as parquet:
                shard_schema = parquet.schema_arrow
                metadata = parquet.metadata
            if schema is None:
                schema = shard_schema
            elif not shard_schema.remove_metadata().equals(schema.remove_metadata()):
                raise ShardError(
                    f"{url} has columns {_columns(shard_schema)}, unlike the other shards' {_columns(schema)}"
                )
            for rg in range(metadata.num_row_groups):
                rows = metadata.row_group(rg).num_rows
                units.append(Unit(config, split, shard, url, rg, first_row, rows))
                first_row += rows
    if schema is None:
        raise ShardError("the dataset lists no parquet shards")
    return units, schema


def _columns(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name} ({f.type})" for f in schema)


class ShardReader:
    """Reads units in order, keeping the current shard open so its footer is fetched once."""

    def __init__(self, fs: fsspec.AbstractFileSystem, block_size: int = BLOCK_SIZE) -> None:
        self._fs = fs
        self._block_size = block_size
        self._url: str | None = None
        self._opened: AbstractContextManager[pq.ParquetFile] | None = None
        self._parquet: pq.ParquetFile | None = None

    def batches(self, unit: Unit, columns: list[str], batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The unit's rows, `batch_rows` at a time, in order."""
        if unit.url != self._url:
            self.close()
            self._opened = open_shard(self._fs, unit.url, self._block_size)
            self._parquet = self._opened.__enter__()
            self._url = unit.url
        assert self._parquet is not None
        try:
            yield from self._parquet.iter_batches(batch_size=batch_rows, row_groups=[unit.row_group], columns=columns)
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            raise ShardError(f"row group {unit.row_group} of {unit.url} cannot be read: {exc}") from exc

    def close(self) -> None:
        if self._opened is not None:
            self._opened.__exit__(None, None, None)
        self._opened = self._parquet = self._url = None
