"""Listing repos (`/api/models`, `/api/datasets`, `/api/spaces`) and the JSON of one repo, as the Hub shapes them.

Pagination is by keyset: each page ends with a `Link: <...>; rel="next"` URL carrying every query parameter and
an opaque cursor (the sort value and id of the page's last repo). The next page starts strictly after that repo
in a total order (sort key, then id), so a page never repeats or skips a repo that existed when the listing
started, however many repos are created meanwhile; and a deep page costs what the first one does.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

import asyncpg
import orjson
from multidict import MultiMapping
from pydantic import BaseModel

from services.catalog.errors import catalog_error
from services.catalog.params import QueryBool, parse_bool
from services.catalog.repo_admin import gated_value
from services.catalog.responses import absent
from services.catalog.store_listing import ListQuery
from services.runtime.http import iso_utc

DEFAULT_PAGE = 1000  # the client pages until it has `limit` items, or to the end without one
MAX_PAGE = 1000
MAX_SEARCH_LENGTH = 250

SortName = Literal[
    "id",
    "modelId",
    "lastModified",
    "last_modified",
    "createdAt",
    "created_at",
    "likes",
    "downloads",
    "trendingScore",
    "trending_score",
]
# Accepted `sort` values -> our sort key. The client turns snake_case into camelCase itself from 1.x; 0.2x
# sends whatever it is given. `trendingScore` is 0 for every repo here, so that order is the id order.
SORT_ALIASES: dict[SortName, str] = {
    "id": "id",
    "modelId": "id",
    "lastModified": "lastModified",
    "last_modified": "lastModified",
    "createdAt": "createdAt",
    "created_at": "createdAt",
    "likes": "likes",
    "downloads": "downloads",
    "trendingScore": "id",
    "trending_score": "id",
}
# Ids read best A to Z; counts and dates best largest first (the Hub's default for them).
ASCENDING_BY_DEFAULT = frozenset({"id"})

_COMMON_EXPAND = (
    "author",
    "cardData",
    "createdAt",
    "disabled",
    "downloads",
    "downloadsAllTime",
    "gated",
    "lastModified",
    "likes",
    "private",
    "resourceGroup",
    "sha",
    "siblings",
    "tags",
    "trendingScore",
    "usedStorage",
)
EXPAND: dict[str, frozenset[str]] = {
    "model": frozenset(
        (
            *_COMMON_EXPAND,
            "baseModels",
            "childrenModelCount",
            "config",
            "evalResults",
            "gguf",
            "inference",
            "inferenceProviderMapping",
            "library_name",
            "mask_token",
            "model-index",
            "pipeline_tag",
            "safetensors",
            "spaces",
            "transformersInfo",
            "widgetData",
            "xetEnabled",
        )
    ),
    "dataset": frozenset((*_COMMON_EXPAND, "citation", "description", "mainSize", "paperswithcode_id", "xetEnabled")),
    "space": frozenset((*_COMMON_EXPAND, "datasets", "models", "region", "runtime", "sdk", "subdomain", "xetEnabled")),
}


ExpandName = Literal[tuple(sorted(frozenset().union(*EXPAND.values())))]  # type: ignore[valid-type]
_WHOLE = re.compile(r"-?[0-9]+")


class InfoParams(BaseModel):
    """The query of `repo_info` (what `parse_expand` reads; repeated keys are lists)."""

    expand: list[ExpandName] = absent("Only these properties (plus `id` and `_id`); each must be one of the type's.")
    blobs: QueryBool = absent("Siblings with their size, git blob id and LFS object.")


class ListParams(BaseModel):
    """The query of a listing, as `parse_list_query` reads it (repeated keys are lists)."""

    search: list[str] = absent(f"Case-insensitive substrings of `owner/name` (at most {MAX_SEARCH_LENGTH} characters).")
    author: str = absent("Only this namespace's repos.")
    filter: list[str] = absent("Tags every listed repo has (e.g. `license:mit`).")
    pipeline_tag: list[str] = absent("Like `filter`.")
    gated: QueryBool = absent("Only gated (true) or only open (false) repos.")
    sort: SortName = absent("The order: by id (the default), dates or counts.")
    direction: int = absent("-1: descending; anything else ascending. Dates and counts default to descending.")
    limit: int = absent(f"Page size (at most {MAX_PAGE}, the default); a larger limit pages.", ge=1)
    full: QueryBool = absent("Every property, the card's data included.")
    cardData: QueryBool = absent("Include `cardData`.")
    config: QueryBool = absent("Accepted for the client's sake; no config is parsed here.")
    expand: list[ExpandName] = absent("Only these properties (plus `id` and `_id`).")
    cursor: str = absent('Where the page starts: only as the `Link: rel="next"` URL carries it.')


@dataclass(frozen=True)
class Shape:
    """Which properties a listed or shown repo carries."""

    full: bool = False
    card: bool = False
    expand: frozenset[str] | None = None  # given: only these, plus id and _id


def repo_json(row: asyncpg.Record, shape: Shape) -> dict[str, Any]:
    """A repo as the Hub shows it in listings and in `repo_info` (files and siblings come from the commit log)."""
    repo_type = row["repo_type"]
    repo_id = f"{row['namespace']}/{row['name']}"
    card = row.get("card_data")
    item: dict[str, Any] = {
        "_id": row["id"],
        "id": repo_id,
        "author": row["namespace"],
        "sha": row["head_sha"],
        "private": row["private"],
        "gated": gated_value(row["gated"]),
        "disabled": False,
        "likes": row["likes"],
        "downloads": row["downloads"],
        "downloadsAllTime": row["downloads"],
        "trendingScore": 0,
        "tags": list(row["tags"]),
        "createdAt": iso_utc(row["created_at"]),
        "lastModified": iso_utc(row["updated_at"]),
        "xetEnabled": False,  # uploads go over plain HTTP (LFS), never Xet
    }
    if card is not None and (shape.full or shape.card or shape.expand is not None):
        item["cardData"] = card
    if repo_type == "model":
        item["modelId"] = repo_id  # the 0.x clients' name for the id
        if card:
            for field in ("pipeline_tag", "library_name"):
                if isinstance(card.get(field), str):
                    item[field] = card[field]
    elif repo_type == "space":
        sdk = (card or {}).get("sdk") if isinstance((card or {}).get("sdk"), str) else row["sdk"]
        if sdk:
            item["sdk"] = sdk
    if shape.expand is not None:
        return {k: v for k, v in item.items() if k in shape.expand or k in ("_id", "id")}
    return item


# -- query parameters ---------------------------------------------------------------------------------------------


def _bad(message: str) -> Exception:
    return catalog_error(400, "InvalidParameter", message)


def parse_expand(params: MultiMapping[str], repo_type: str) -> frozenset[str] | None:
    values = params.getall("expand", [])
    if not values:
        return None
    allowed = EXPAND[repo_type]
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise _bad(f"expand={unknown[0]!r} is not a {repo_type} property; expected one of {', '.join(sorted(allowed))}")
    return frozenset(values)


def _page_size(params: MultiMapping[str]) -> int:
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_PAGE
    if not _WHOLE.fullmatch(raw):
        raise _bad(f"limit={raw!r} is not a whole number")
    limit = int(raw)
    if limit < 1:
        raise _bad(f"limit={raw} must be at least 1")
    return min(limit, MAX_PAGE)  # larger limits page: the client follows `Link` until it has them all


def _direction(params: MultiMapping[str], sort: str) -> bool:
    """True for descending. 0.2x clients send direction=-1; -1 is descending, any other number ascending."""
    raw = params.get("direction")
    if raw is None:
        return sort not in ASCENDING_BY_DEFAULT
    if not _WHOLE.fullmatch(raw):
        raise _bad(f"direction={raw!r} must be -1 (descending) or 1 (ascending)")
    return int(raw) == -1


def encode_cursor(sort: str, descending: bool, row: asyncpg.Record) -> str:
    column_value = {
        "id": None,
        "lastModified": row["updated_at"],
        "createdAt": row["created_at"],
        "likes": row["likes"],
        "downloads": row["downloads"],
    }[sort]
    if isinstance(column_value, datetime):
        column_value = column_value.isoformat()
    raw = orjson.dumps([sort, descending, column_value, row["full_id"]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, sort: str, descending: bool) -> tuple[Any, str]:
    """(sort value, id) from a cursor made for this same sort and direction; a 400 for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        made_for, made_desc, value, last_id = orjson.loads(raw)
        if made_for in ("lastModified", "createdAt"):
            value = datetime.fromisoformat(value)
        elif made_for in ("likes", "downloads") and not isinstance(value, int):
            raise ValueError("not a count")
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        raise _bad("cursor is not one this server made: start the listing again without it") from None
    if made_for != sort or made_desc != descending or not isinstance(last_id, str):
        raise _bad("cursor belongs to a listing in another order: start again without it")
    return value, last_id


def parse_list_query(
    params: MultiMapping[str], repo_type: str, readable_namespaces: tuple[str, ...] | None
) -> tuple[ListQuery, Shape]:
    """The listing's query parameters, checked: what to select and how to show it."""
    raw_sort = params.get("sort")
    if raw_sort is None:
        sort = "id"
    elif raw_sort in SORT_ALIASES:
        sort = SORT_ALIASES[raw_sort]
    else:
        accepted = ", ".join(k for k in SORT_ALIASES if "_" not in k)
        raise _bad(f"sort={raw_sort!r} is not a sort key; use one of {accepted}")
    descending = _direction(params, sort)
    search = tuple(s for s in params.getall("search", []) if s)
    if any(len(s) > MAX_SEARCH_LENGTH for s in search):
        raise _bad(f"search is limited to {MAX_SEARCH_LENGTH} characters")
    tags = tuple(t for t in (*params.getall("filter", []), *params.getall("pipeline_tag", [])) if t)
    expand = parse_expand(params, repo_type)
    full = bool(parse_bool(params, "full"))
    card = bool(parse_bool(params, "cardData"))
    parse_bool(params, "config")  # accepted, nothing to add: no config.json is parsed here
    cursor = params.get("cursor")
    query = ListQuery(
        repo_type=repo_type,
        sort=sort,
        descending=descending,
        limit=_page_size(params),
        readable_namespaces=readable_namespaces,
        author=params.get("author") or None,
        search=search,
        tags=tags,
        gated=parse_bool(params, "gated"),
        after=decode_cursor(cursor, sort, descending) if cursor else None,
        with_card=full or card or (expand is not None and "cardData" in expand),
    )
    return query, Shape(full=full, card=card, expand=expand)


def page(
    rows: list[asyncpg.Record], query: ListQuery, shape: Shape, public_url: str, path: str, params: MultiMapping[str]
) -> tuple[list[dict[str, Any]], str | None]:
    """The items of a page and the absolute URL of the next one (None on the last page)."""
    items = [repo_json(row, shape) for row in rows[: query.limit]]
    if len(rows) <= query.limit:
        return items, None
    cursor = encode_cursor(query.sort, query.descending, rows[query.limit - 1])
    kept = [(k, v) for k, v in params.items() if k != "cursor"]
    return items, f"{public_url.rstrip('/')}{path}?{urlencode([*kept, ('cursor', cursor)])}"
