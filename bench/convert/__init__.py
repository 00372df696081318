"""Parquet conversion benchmark: the catalog worker's CSV -> parquet step against the naive one, same run.

    .venv/bin/python -m bench.convert            (or: hubstream bench convert --mb 200 --repeat 3)

A CSV of `--mb` MB (text and numbers, little that compresses) is written once. Each phase runs in a fresh
process, `--repeat` times, and reports rows/s and that process's peak RSS (median and spread printed):

* ours: `convert_rows.convert_split` with the worker's default limits (4 MiB blocks, 256 MiB shards), as
  the worker calls it on a spooled source file;
* baseline: `pyarrow.csv.read_csv` of the whole file, then one `pyarrow.parquet.write_table`, pyarrow's
  defaults (the same compression and format version as our writer): the fastest way, memory grows with the file.

Goal: peak RSS flat in the file's size (about the same at any `--mb`), throughput >= 50 % of the baseline's.
Figures are printed, never enforced.
"""

from bench.convert.cli import main

__all__ = ["main"]
