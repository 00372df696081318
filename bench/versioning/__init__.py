"""Versioning benchmark: what a version costs, against baselines measured in the same run.

    .venv/bin/python -m bench.versioning            (or: hubstream bench versioning --sizes 100000,1000000)

Our code runs exactly as the REST upsert runs it (`versions.apply_delta` in one transaction on a
pool, its event written to the outbox), minus HTTP. Phases, each repeated `--repeat` times (median
and spread printed):

* bulk upsert: `add` of `--bulk` new datapoints (canonical JSON, hashes, contents, membership rows,
  the version and its event), as rows/s; baseline: a plain asyncpg COPY of the same rows into a
  table shaped like `datapoints` (same columns and indexes). Goal >= 50 %.
* version after a delta, at each of `--sizes`: an `add` of `--delta` new datapoints, then a `remove`
  of `--delta` others (two upserts, two versions), timed together; baseline: what a version costs
  when it is stored as a full member list (an INSERT ... SELECT of every member). Goal: within 1.5x
  of each other across sizes, and <= 200 ms.
* reading page 1 (size 10) of the dataset's first, old version at the largest size, `--reads` times:
  p50/p99; baseline: page 1 of a plain table ordered by its primary key.

The dataset is grown to each size with bulk upserts of up to 100,000 (the API's per-request limit).
The server is the one given with `--database-url` (this machine only) or a throw-away PostgreSQL
on 127.0.0.1; the run creates its own database and drops it. Figures are printed, never enforced.
"""

from bench.versioning.cli import amain, main

__all__ = ["amain", "main"]
