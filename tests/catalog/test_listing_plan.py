"""A listing page's query reads only its own rows, however many repos there are.

A mirror walks an upstream's listing to its end at every sync: if a page costs O(table) (a scan of every row,
or a lookup through the trigram index, whose posting lists are as long as the table), the walk is quadratic.
The plans are checked on a table large enough for the planner to choose between them, with fresh statistics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import asyncpg
import orjson
import pytest_asyncio

from services.catalog import store_listing
from services.catalog.store_listing import ListQuery, list_sql
from services.registry import definition
from services.runtime.migrations import migrated_pool
from tests.catalog.conftest import load_repos

NAMESPACES = 10
PER_NAMESPACE = 600


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(database_url, "catalog", definition("catalog").migrations()) as pool:
        names = [f"org{n}/set-{i}" for n in range(NAMESPACES) for i in range(PER_NAMESPACE)]
        await load_repos(pool, "dataset", names)
        await store_listing.vacuum_analyze_repos(pool)
        yield pool


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _scans_of_repos(pool: asyncpg.Pool, query: ListQuery) -> list[tuple[str, str | None]]:
    sql, args = list_sql(query)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")  # as list_repos plans
        raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
    plan = (orjson.loads(raw) if isinstance(raw, str | bytes) else raw)[0]["Plan"]
    return [(n["Node Type"], _index_of(n)) for n in _nodes(plan) if n.get("Relation Name") == "repos"]


def _index_of(node: dict[str, Any]) -> str | None:
    """The index a scan of repos reads: its own, or a bitmap heap scan's (from its bitmap index scans)."""
    if node["Node Type"] == "Bitmap Heap Scan":
        return ",".join(sorted(n["Index Name"] for n in _nodes(node) if n["Node Type"] == "Bitmap Index Scan"))
    return node.get("Index Name")


def _by_id(**more: Any) -> ListQuery:
    """A listing in id order, as a mirror walks it: pages of 1,000, anonymous."""
    return ListQuery(repo_type="dataset", sort="id", descending=False, limit=1000, readable_namespaces=None, **more)


async def test_a_page_reads_its_rows_by_the_unique_key_never_the_whole_table(pool: asyncpg.Pool) -> None:
    mid = ("", "org4/set-300")
    for query in (_by_id(), _by_id(after=mid), _by_id(author="org7"), _by_id(author="org4", after=mid)):
        scans = await _scans_of_repos(pool, query)
        # The page's keys: through a btree (a listing index, or the namespace's). Its rows: one unique-index
        # lookup each, never a scan of the table or the trigram index.
        # (A bitmap over a btree is fine: the planner takes one when what is left of a range fits in a page.)
        assert scans[0][0] in ("Index Only Scan", "Index Scan", "Bitmap Heap Scan"), (query, scans)
        assert "repos_full_id_trgm" not in (scans[0][1] or ""), (query, scans)
        assert scans[1:] == [("Index Scan", "repos_repo_type_namespace_name_key")], (query, scans)


async def test_the_page_still_holds_the_rows_in_order(pool: asyncpg.Pool) -> None:
    rows = await store_listing.list_repos(pool, replace(_by_id(author="org4", after=("", "org4/set-300")), limit=5))
    assert [r["full_id"] for r in rows] == [f"org4/set-{i}" for i in range(301, 307)]
    assert all(r["repo_type"] == "dataset" and r["namespace"] == "org4" for r in rows)


async def test_an_authors_page_reads_that_authors_rows_only_in_every_order(pool: asyncpg.Pool) -> None:
    """`list_models(author=...)` on a large org that sorts last: the page's keys come from an index range of that
    author alone (the id order: a range of full_id; the others: the namespace-led indexes), not from a walk
    past every other author's entries, nor from all of the author's rows sorted. Also a page after a cursor,
    as a mirror walks an author's listing."""
    walked = await store_listing.list_repos(pool, replace(_by_id(author="org9"), limit=200))
    pages = [_by_author(sort, descending) for sort in store_listing.SORT_COLUMNS for descending in (False, True)]
    pages.append(_by_author("id", False, after=("", walked[-1]["full_id"])))
    for query in pages:
        sql, args = list_sql(query)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            raw = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
        plan = (orjson.loads(raw) if isinstance(raw, str | bytes) else raw)[0]["Plan"]
        keys = next(n for n in _nodes(plan) if n.get("Relation Name") == "repos")  # the scan that finds the page
        read = keys["Actual Rows"] + keys.get("Rows Removed by Filter", 0)
        assert read <= query.limit + 1, (query.sort, query.descending, query.after, _index_of(keys), read)
        rows = await store_listing.list_repos(pool, query)
        assert len(rows) == query.limit + 1, query
        assert {r["namespace"] for r in rows} == {"org9"}, query


def _by_author(sort: str, descending: bool, **more: Any) -> ListQuery:
    return ListQuery(
        repo_type="dataset",
        sort=sort,
        descending=descending,
        limit=100,
        readable_namespaces=None,
        author="org9",
        **more,
    )
