"""The catalog's routes (the Hub's paths)."""

from __future__ import annotations

from aiohttp import web

from services.catalog import repo_views, views

TYPES = "{type:models|datasets|spaces}"


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/whoami-v2", views.whoami)
    app.router.add_post("/api/repos/create", views.create_repo_view)
    app.router.add_delete("/api/repos/delete", repo_views.delete_repo_view)
    app.router.add_post("/api/repos/move", repo_views.move_repo_view)
    app.router.add_get(f"/api/{TYPES}", repo_views.list_repos_view)
    app.router.add_get("/api/{type:models|datasets}-tags-by-type", repo_views.tags_by_type_view)
    app.router.add_get(f"/api/{TYPES}/{{namespace}}/{{name}}", views.repo_info)
    app.router.add_put(f"/api/{TYPES}/{{namespace}}/{{name}}/settings", repo_views.settings_view)
    # Innermost, so it sees a view's RepoNotFound before it is rendered: old names of moved repos redirect.
    app.middlewares.append(repo_views.follow_moved_repos)
