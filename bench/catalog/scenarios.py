"""What each phase asks: request paths over HTTP, and the same queries as the baseline runs them.

The baseline's SELECTs come from the service's own code (`parse_list_query` then `list_sql`), on the same
parameters the HTTP requests carry, so both paths run exactly the same query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import asyncpg
from multidict import MultiDict

from bench.catalog.load import FILTER_TAGS, LISTED_AUTHORS, SEARCH_WORDS
from services.catalog import store, store_listing
from services.catalog.listing import encode_cursor, parse_list_query

LISTING = "listing"
INFO = "repo_info"


@dataclass(frozen=True)
class Scenario:
    label: str
    kind: str  # LISTING or INFO: the goal is about listings
    paths: list[str]  # rotated through, one per request
    baseline: list[Callable[[asyncpg.Pool], Awaitable[object]]]  # the same, as direct SQL


def _listing_call(params: list[tuple[str, str]]) -> tuple[str, Callable[[asyncpg.Pool], Awaitable[object]]]:
    query, _ = parse_list_query(MultiDict(params), "model", None)
    path = f"/api/models?{urlencode(params)}"

    async def run(pool: asyncpg.Pool) -> object:
        return await store_listing.list_repos(pool, query)

    return path, run


async def _deep(pool: asyncpg.Pool, params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The same parameters with a cursor halfway through the listing's results."""
    query, _ = parse_list_query(MultiDict(params), "model", None)
    total = await store_listing.count_matching(pool, query)
    row = await store_listing.row_at(pool, query, total // 2)
    if row is None:
        return params
    return [*params, ("cursor", encode_cursor(query.sort, query.descending, row))]


async def build(pool: asyncpg.Pool, page_size: int, ids: list[str]) -> list[Scenario]:
    limit = ("limit", str(page_size))
    families: list[tuple[str, list[list[tuple[str, str]]]]] = [
        ("default order", [[limit]]),
        ("sort=lastModified", [[("sort", "lastModified"), limit]]),
        ("search", [[("search", word), limit] for word in SEARCH_WORDS]),
        ("filter", [[("filter", tag), limit] for tag in FILTER_TAGS]),
        # As `list_models(author=...)` asks: users first, midway and last in id order, and an org with 5 % of repos.
        ("author", [[("author", author), limit] for author in LISTED_AUTHORS]),
        ("author, sort=lastModified", [[("author", a), ("sort", "lastModified"), limit] for a in LISTED_AUTHORS]),
    ]
    scenarios = []
    for label, variants in families:
        for depth in ("first page", "deep page"):
            if depth == "deep page":
                variants = [await _deep(pool, v) for v in variants]
            calls = [_listing_call(v) for v in variants]
            scenarios.append(Scenario(f"{label}, {depth}", LISTING, [p for p, _ in calls], [c for _, c in calls]))

    def info_call(repo_id: str) -> Callable[[asyncpg.Pool], Awaitable[object]]:
        namespace, name = repo_id.split("/")

        async def run(pool: asyncpg.Pool) -> object:
            return await store.repo(pool, "model", namespace, name)

        return run

    scenarios.append(Scenario("repo_info", INFO, [f"/api/models/{i}" for i in ids], [info_call(i) for i in ids]))
    return scenarios
