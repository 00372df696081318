"""Thin views for Nia's data-source API."""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.ingest import store
from services.ingest.access import find_source, require_may_change, sees_all
from services.ingest.keys import CHUNKS
from services.ingest.requester_access import requester_reads_private
from services.ingest.sources import cancel_index, dataset_from_url, request_index, source_json, unified_source_json
from services.runtime.auth import require_principal
from services.runtime.errors import ApiError
from services.runtime.http import json_response, parse_body, parse_query
from services.runtime.keys import CONFIG, OUTBOX, POOL


class IndexDatasetBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str = Field(min_length=1, max_length=2048)
    config: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")
    add_as_global_source: bool = True


async def index_dataset(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await parse_body(request, IndexDatasetBody)
    dataset = dataset_from_url(body.url)
    reader_checked = await requester_reads_private(request, dataset, is_global=body.add_as_global_source)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await request_index(
            conn,
            request.app[OUTBOX],
            dataset=dataset,
            config=body.config,
            is_global=body.add_as_global_source,
            requested_by=principal.user,
            reader_checked=reader_checked,
        )
    return json_response(source_json(row, request.app[CONFIG].infra.catalog_url))


async def get_source(request: web.Request) -> web.Response:
    principal = require_principal(request)
    row = await find_source(request.app[POOL], principal, request.match_info["source_id"])
    return json_response(source_json(row, request.app[CONFIG].infra.catalog_url))


NO_NUL = r"^[^\x00]*$"  # text that reaches PostgreSQL, which takes no NUL character


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    q: str | None = Field(default=None, max_length=200, pattern=NO_NUL, description="Part of the dataset id.")
    status: Literal["pending", "processing", "completed", "failed", "error"] | None = None
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class UnifiedListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str | None = Field(default=None, max_length=50)
    query: str | None = Field(default=None, max_length=200, pattern=NO_NUL)
    status: Literal["pending", "processing", "completed", "failed", "error"] | None = None
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)


async def list_sources(request: web.Request) -> web.Response:
    """Nia's legacy list: a bare JSON array."""
    principal = require_principal(request)
    query = parse_query(request, ListQuery)
    rows, _ = await store.list_sources(
        request.app[POOL],
        principal.user,
        sees_all(principal),
        q=query.q,
        status=query.status,
        limit=query.limit,
        offset=query.offset,
    )
    catalog_url = request.app[CONFIG].infra.catalog_url
    return json_response([source_json(r, catalog_url) for r in rows])


async def list_unified_sources(request: web.Request) -> web.Response:
    """Nia's unified list: `{pagination, items}`."""
    principal = require_principal(request)
    query = parse_query(request, UnifiedListQuery)
    if query.type not in (None, "huggingface_dataset"):
        rows, total = [], 0  # this hub indexes Hugging Face datasets only
    else:
        rows, total = await store.list_sources(
            request.app[POOL],
            principal.user,
            sees_all(principal),
            q=query.query,
            status=query.status,
            limit=query.limit,
            offset=query.offset,
        )
    catalog_url = request.app[CONFIG].infra.catalog_url
    return json_response(
        {
            "pagination": {
                "total": total,
                "limit": query.limit,
                "offset": query.offset,
                "has_more": query.offset + len(rows) < total,
            },
            "items": [unified_source_json(r, catalog_url) for r in rows],
        }
    )


async def delete_source(request: web.Request) -> web.Response:
    """Stop the source's run and delete it with its chunks."""
    principal = require_principal(request)
    pool = request.app[POOL]
    row = await find_source(pool, principal, request.match_info["source_id"])
    require_may_change(principal, row, "delete")
    async with pool.acquire() as conn, conn.transaction():
        await store.cancel_runs(conn, row["id"])
        indexes = await store.delete_source(conn, row["id"])
    for index in indexes:
        await asyncio.to_thread(request.app[CHUNKS].drop, index)
    return json_response({"success": True, "id": str(row["id"]), "status": "deleted"})


async def cancel_source(request: web.Request) -> web.Response:
    """Stop the source's live run (a worker running it stops at its next row group); the source keeps
    its last completed index, if any, and says it was cancelled."""
    principal = require_principal(request)
    pool = request.app[POOL]
    row = await find_source(pool, principal, request.match_info["source_id"])
    require_may_change(principal, row, "cancel")
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_source(conn, row["id"])
        if not await store.cancel_runs(conn, row["id"]):
            raise ApiError(409, "NothingToCancel", f"data source {row['id']} is {row['status']}: no indexing to cancel")
        await cancel_index(conn, request.app[OUTBOX], row, by=principal.user)
        row = await find_source(conn, principal, str(row["id"]))
    return json_response(source_json(row, request.app[CONFIG].infra.catalog_url))
