"""The ingest service's routes (Nia's v2 paths), each with its OpenAPI operation."""

from __future__ import annotations

from aiohttp import web

from services.ingest import views
from services.ingest.responses import Source
from services.runtime.keys import API


def setup_routes(app: web.Application) -> None:
    api = app[API]  # every route needs a token (Authorization: Bearer)
    api.post(
        "/v2/huggingface-datasets",
        views.index_dataset,
        body=views.IndexDatasetBody,
        ok=Source,
        summary="Index a Hub dataset (or return the global source already asked for)",
    )
    api.get(
        "/v2/data-sources/{source_id}",
        views.get_source,
        ok=Source,
        errors={404: "No data source with that id (SourceNotFound)."},
        summary="A data source and where its indexing stands",
    )
