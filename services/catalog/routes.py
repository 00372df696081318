"""The catalog's routes (the Hub's paths), each with its OpenAPI operation."""

from __future__ import annotations

from aiohttp import web

from services.catalog import views
from services.catalog.responses import CreatedRepo, RepoInfo, WhoAmI
from services.runtime.keys import API


def setup_routes(app: web.Application) -> None:
    api = app[API]  # anonymous calls allowed unless token="required" (the Hub reads public repos anonymously)
    api.get("/api/whoami-v2", views.whoami, ok=WhoAmI, token="required", summary="The token's user")
    api.post(
        "/api/repos/create",
        views.create_repo_view,
        body=views.CreateRepoBody,
        ok=CreatedRepo,
        errors={
            400: "Invalid body or repo name.",
            403: "The token's user may not create repos in that organization.",
            404: "No user or organization of that name.",
            409: "It exists (the body's `url` names it).",
        },
        token="required",
        summary="Create a repo",
    )
    api.get(
        r"/api/{type:models|datasets|spaces}/{namespace}/{name}",
        views.repo_info,
        ok=RepoInfo,
        errors={404: "No such repo, or a private one the caller may not see (RepoNotFound)."},
        summary="A repo's info",
    )
