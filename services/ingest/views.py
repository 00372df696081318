"""Thin views for Nia's data-source API."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.ingest import store
from services.ingest.sources import dataset_from_url, request_index, source_json
from services.runtime.auth import require_principal
from services.runtime.errors import ApiError
from services.runtime.http import json_response, parse_body
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
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await request_index(
            conn,
            request.app[OUTBOX],
            dataset=dataset,
            config=body.config,
            is_global=body.add_as_global_source,
            requested_by=principal.user,
        )
    return json_response(source_json(row, request.app[CONFIG].infra.catalog_url))


async def get_source(request: web.Request) -> web.Response:
    require_principal(request)
    raw = request.match_info["source_id"]
    try:
        source_id = uuid.UUID(raw)
    except ValueError:
        raise ApiError(404, "SourceNotFound", f"no data source with id {raw!r}") from None
    row = await store.source(request.app[POOL], source_id)
    if row is None:
        raise ApiError(404, "SourceNotFound", f"no data source with id {raw!r}")
    return json_response(source_json(row, request.app[CONFIG].infra.catalog_url))
