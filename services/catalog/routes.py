"""The catalog's routes (the Hub's paths)."""

from __future__ import annotations

from aiohttp import web

from services.catalog import views


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/whoami-v2", views.whoami)
    app.router.add_post("/api/repos/create", views.create_repo_view)
    app.router.add_get(r"/api/{type:models|datasets|spaces}/{namespace}/{name}", views.repo_info)
