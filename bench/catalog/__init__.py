"""Catalog listing benchmark: listing and repo_info latency over real HTTP, beside the same SQL run directly.

    .venv/bin/python -m bench.catalog --repos 1000000      (or: hubstream bench catalog --repos 1000000)

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

Modules: cli (arguments, the run), load (the synthetic repos and COPY), scenarios (what each phase asks and
its baseline SELECT), measure (timing) and report (the printed table).
"""

from bench.catalog.cli import amain, main, parse_args

__all__ = ["amain", "main", "parse_args"]
