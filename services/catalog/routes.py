"""The catalog's routes (the Hub's paths), each with its OpenAPI operation."""

from __future__ import annotations

from aiohttp import web

from services.catalog import repo_views, views
from services.catalog.listing import InfoParams, ListParams
from services.catalog.responses import (
    CreatedRepo,
    DeletedRepo,
    MovedRepo,
    RepoInfo,
    RepoSettings,
    TagsByType,
    WhoAmI,
)
from services.runtime.keys import API

TYPES = "{type:models|datasets|spaces}"
REPO = f"/api/{TYPES}/{{namespace}}/{{name}}"

NOT_FOUND = "No such repo, or a private one the caller may not see (RepoNotFound)."
MOVED = (None, "The repo was moved: `Location` is the same URL under its new name (a read by an old name).")
NOT_ADMIN = "The token is read-only, or its user does not administer the repo (Forbidden)."


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
    api.delete(
        "/api/repos/delete",
        repo_views.delete_repo_view,
        body=repo_views.RepoNameBody,
        ok=DeletedRepo,
        errors={400: "Invalid body or repo name (InvalidName).", 403: NOT_ADMIN, 404: NOT_FOUND},
        token="required",
        summary="Delete a repo",
    )
    api.post(
        "/api/repos/move",
        repo_views.move_repo_view,
        body=repo_views.MoveRepoBody,
        ok=MovedRepo,
        errors={
            400: "Invalid body, `fromRepo`/`toRepo` not `namespace/name`, or a move onto its own name.",
            403: "The caller does not administer the repo, or may not create repos in the target namespace.",
            404: "No such repo (RepoNotFound), or no user or organization of the target's namespace (NotFound).",
            409: "A repo of that type already has the target name (RepoExists).",
        },
        token="required",
        summary="Rename a repo or move it to another namespace (its old name redirects)",
    )
    api.get(
        f"/api/{TYPES}",
        repo_views.list_repos_view,
        query=ListParams,
        ok=list[RepoInfo],
        errors={400: "A parameter out of range: sort key, limit, direction, boolean, expand or cursor."},
        summary='List repos of a type (keyset pages; `Link: rel="next"` names the next one)',
    )
    api.get(
        "/api/{type:models|datasets}-tags-by-type",
        repo_views.tags_by_type_view,
        ok=TagsByType,
        summary="The tags listings filter on, by group",
    )
    api.get(
        REPO,
        views.repo_info,
        query=InfoParams,
        ok=RepoInfo,
        errors={400: "An `expand` property the repo type does not have (InvalidParameter).", 404: NOT_FOUND},
        also={307: MOVED},
        summary="A repo's info",
    )
    api.put(
        f"{REPO}/settings",
        repo_views.settings_view,
        body=repo_views.SettingsBody,
        ok=RepoSettings,
        errors={403: NOT_ADMIN, 404: NOT_FOUND},
        token="required",
        summary="Change a repo's visibility or gating",
    )
    # Innermost, so it sees a view's RepoNotFound before it is rendered: old names of moved repos redirect.
    app.middlewares.append(repo_views.follow_moved_repos)
