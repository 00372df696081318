"""The versioning service's routes (Humanloop's /v5 paths) come with the versioning issue."""

from __future__ import annotations

from aiohttp import web


def setup_routes(app: web.Application) -> None:
    # Add each route through app[API] (services/runtime/openapi.py), which documents it, e.g.
    #   app[API].get("/v5/datasets", views.list_datasets, query=ListQuery, ok=DatasetPage, summary="...")
    del app  # only the runtime's /healthz, /readyz, /metrics and /openapi.json so far
