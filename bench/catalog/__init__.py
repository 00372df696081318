"""Catalog benchmark: listing and repo_info latency over real HTTP, beside the same SQL run directly; upload
and download rates of a large file, beside a plain file copy on the same disk.

    .venv/bin/python -m bench.catalog --repos 1000000      (or: hubstream bench catalog --repos 1000000)
    .venv/bin/python -m bench.catalog --transfer-only      (the transfers alone: no repos loaded)

One run: a fresh database on the given PostgreSQL (`--database-url`, on this machine only) or on a throw-away
server; the catalog's migrations; `--repos` model repos loaded with COPY (the listing indexes are dropped for
the load and built afterwards from the migration's own definitions); `hubstream serve catalog` started as its
own process; then, `--repeats` times, each scenario below is measured twice, back to back: `--requests`
sequential requests over HTTP with aiohttp (the path a client sees: routing, token check, query parsing, the
query, JSON, the Link header), and the very same `store_listing` call run with asyncpg on a pool configured like
the service's (the baseline: what the database alone costs).

Scenarios (anonymous, `limit=--page-size`): the first page and a deep page (a cursor halfway through the
results) of the default listing, of `sort=lastModified`, of `search=<word>` (about 3 % of repos match each word)
and of `filter=<tag>` (tags from common to rare); and `repo_info` of random repos. The figures are the median
over repeats of each phase's p50 and p99, with their spread (min-max); the goal (listing p99 < 50 ms over HTTP)
is reported, never enforced. The database and the server are removed at the end.

Then the transfer phase (`--transfer-mb`, 1024 by default; 0 skips it): `--repeats` rounds, each a copy of one
file with `shutil.copyfile` (the baseline), its upload through the catalog as huggingface_hub sends an LFS file
(preupload, LFS batch, PUT to the signed URL, NDJSON commit) and its download through `resolve`, all on one disk;
the catalog's RSS is sampled during each transfer (start and peak: the goal is flat) and its CPU time taken (a
figure that, unlike the rates, other load on the machine does not skew), and so is this process's own, the
client's (a download costs the catalog little: sendfile; its rate is mostly the client's). Goal: upload and
download at least half the copy's rate (medians). transfer.py says which client path is timed and why.

Modules: cli (arguments, the run), load (the synthetic repos and COPY), scenarios (what each phase asks and
its baseline SELECT), measure (timing), transfer (the transfer phase) and report (the printed table).
"""

from bench.catalog.cli import amain, main, parse_args

__all__ = ["amain", "main", "parse_args"]
