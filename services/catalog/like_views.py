"""Likes: like and unlike a repo, the repos a user liked, a repo's likers. A repo's `likes` counts them."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from services.catalog import store, store_community
from services.catalog.access import readable_repo
from services.catalog.errors import catalog_error
from services.catalog.history_views import _cursor, _next_link
from services.runtime.auth import require_principal
from services.runtime.http import iso_utc, json_response
from services.runtime.keys import API, POOL, PRINCIPAL

PAGE = 100


class LikedRepo(BaseModel):
    name: str
    type: Literal["model", "dataset", "space"]


class UserLike(BaseModel):
    createdAt: str
    repo: LikedRepo


class Liker(BaseModel):
    user: str
    fullname: str
    avatarUrl: str


class LikeState(BaseModel):
    liked: bool
    likes: int


async def _set(request: web.Request, *, liked: bool) -> web.Response:
    principal = require_principal(request)
    repo = await readable_repo(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        if await store_community.lock_likes(conn, repo["id"]) is None:  # deleted since it was read
            raise catalog_error(404, "RepoNotFound", f"Repository Not Found for url: {request.url}.")
        change = store_community.like if liked else store_community.unlike
        await change(conn, repo["id"], principal.user)  # liking twice (or unliking twice) changes nothing
        likes = await conn.fetchval("SELECT likes FROM repos WHERE id = $1", repo["id"])
    return json_response({"liked": liked, "likes": likes})


async def like_view(request: web.Request) -> web.Response:
    return await _set(request, liked=True)


async def unlike_view(request: web.Request) -> web.Response:
    return await _set(request, liked=False)


async def likers_view(request: web.Request) -> web.Response:
    repo = await readable_repo(request)
    offset = _cursor(request)
    rows = await store_community.likers(request.app[POOL], repo["id"], offset=offset, limit=PAGE + 1)
    items = [{"user": r["name"], "fullname": r["fullname"] or r["name"], "avatarUrl": ""} for r in rows[:PAGE]]
    return json_response(items, headers=_next_link(request, offset + PAGE) if len(rows) > PAGE else None)


async def user_likes_view(request: web.Request) -> web.Response:
    """What a user liked, as the caller may see it: public repos, and private ones the caller may read."""
    user = request.match_info["user"]
    pool = request.app[POOL]
    if await store.account(pool, user) is None:
        raise catalog_error(404, "NotFound", f"no user named {user!r}")
    principal = request.get(PRINCIPAL)
    offset = _cursor(request)
    viewer = principal.user if principal else None
    rows = await store_community.liked_repos(pool, user, viewer, offset=offset, limit=PAGE + 1)
    items = [
        {
            "createdAt": iso_utc(r["created_at"]),
            "repo": {"name": f"{r['namespace']}/{r['name']}", "type": r["repo_type"]},
        }
        for r in rows[:PAGE]
    ]
    return json_response(items, headers=_next_link(request, offset + PAGE) if len(rows) > PAGE else None)


def setup_like_routes(app: web.Application) -> None:
    api = app[API]
    repo = "/api/{type:models|datasets|spaces}/{namespace}/{name}"
    not_found = "No such repo, or a private one the caller may not see (RepoNotFound)."
    for method, view, summary in (
        ("POST", like_view, "UserLike a repo (again: no change)"),
        ("DELETE", unlike_view, "Take back a like (none: no change)"),
    ):
        api.route(
            method,
            repo + "/like",
            view,
            ok=LikeState,
            errors={400: "An invalid repo name (InvalidName).", 404: not_found},
            token="required",
            summary=summary,
        )
    paged = {400: "A cursor that is not the one the previous page's Link gave (InvalidInput)."}
    api.get(
        repo + "/likers",
        likers_view,
        ok=list[Liker],
        errors={**paged, 404: not_found},
        summary='Who liked a repo, newest first (Link: rel="next" pages)',
    )
    api.get(
        "/api/users/{user}/likes",
        user_likes_view,
        ok=list[UserLike],
        errors={**paged, 404: "No such user (NotFound)."},
        summary="The repos a user liked that the caller may see, newest first",
    )
