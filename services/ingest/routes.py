"""The ingest service's routes (Nia's v2 paths)."""

from __future__ import annotations

from aiohttp import web

from services.ingest import views


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/v2/huggingface-datasets", views.index_dataset)
    app.router.add_get("/v2/data-sources/{source_id}", views.get_source)
