"""Views for listing repos and administering them (delete, move, settings), and the redirects of moved repos."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from services.catalog import store_files, store_listing, store_orgs
from services.catalog.listing import page, parse_list_query
from services.catalog.names import name_problem
from services.catalog.repo_admin import Gated, delete_repo, gated_value, move_repo, parse_repo_id, update_settings
from services.catalog.repos import RepoRef, can_read
from services.catalog.tag_catalog import TAGS_BY_TYPE
from services.runtime.auth import require_principal
from services.runtime.errors import ApiError
from services.runtime.http import json_response, parse_body
from services.runtime.keys import CONFIG, OUTBOX, POOL, PRINCIPAL

RepoTypeName = Literal["model", "dataset", "space"]


async def list_repos_view(request: web.Request) -> web.Response:
    repo_type = request.match_info["type"].removesuffix("s")
    principal = request.get(PRINCIPAL)
    pool = request.app[POOL]
    readable = await store_listing.readable_namespaces(pool, principal.user) if principal else None
    query, shape = parse_list_query(request.query, repo_type, readable)
    if principal is not None:
        query = replace(query, hidden=await store_orgs.hidden_private_repos(pool, principal.user, repo_type))
    rows = await store_listing.list_repos(pool, query)
    items, next_url = page(rows, query, shape, request.app[CONFIG].http.url, request.path, request.query)
    if shape.full or (shape.expand is not None and "siblings" in shape.expand):
        # Full listings carry each repo's files at its head, as the Hub's do: one query for the page.
        heads = [(row["id"], row["head_sha"]) for row in rows[: len(items)] if row["head_sha"]]
        paths = await store_files.head_paths(pool, heads) if heads else {}
        for row, item in zip(rows, items, strict=False):
            item["siblings"] = [{"rfilename": p} for p in paths.get(row["id"], [])]
    return json_response(items, headers={"Link": f'<{next_url}>; rel="next"'} if next_url else None)


async def tags_by_type_view(request: web.Request) -> web.Response:
    return json_response(TAGS_BY_TYPE[request.match_info["type"]]())


class RepoNameBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    organization: str | None = None
    type: RepoTypeName = "model"  # clients leave it out for models


async def delete_repo_view(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await parse_body(request, RepoNameBody, status=400)
    ref = RepoRef(body.type, *parse_repo_id(f"{body.organization or principal.user}/{body.name}"))
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await delete_repo(conn, request.app[OUTBOX], principal, ref)
    return json_response({"deleted": ref.repo_id})


class MoveRepoBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    fromRepo: str  # the Hub's field names
    toRepo: str
    type: RepoTypeName = "model"


async def move_repo_view(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await parse_body(request, MoveRepoBody, status=400)
    source = RepoRef(body.type, *parse_repo_id(body.fromRepo, "fromRepo"))
    target = RepoRef(body.type, *parse_repo_id(body.toRepo, "toRepo"))
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await move_repo(conn, request.app[OUTBOX], principal, source, target)
    return json_response({"url": target.url(request.app[CONFIG].http.url), "name": target.repo_id})


class SettingsBody(BaseModel):
    # The Hub has more settings (discussionsDisabled, xetEnabled...); unknown ones are ignored.
    model_config = ConfigDict(extra="ignore")

    private: bool | None = None  # clients up to 1.7
    visibility: Literal["public", "private", "protected"] | None = None  # clients from 1.8
    gated: Gated | None = None


async def settings_view(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await parse_body(request, SettingsBody, status=400)
    ref = RepoRef(
        request.match_info["type"].removesuffix("s"), request.match_info["namespace"], request.match_info["name"]
    )
    private = body.private if body.visibility is None else body.visibility != "public"
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await update_settings(conn, request.app[OUTBOX], principal, ref, private=private, gated=body.gated)
    # ≤0.36 clients return this body from update_repo_visibility.
    return json_response({"private": row["private"], "gated": gated_value(row["gated"])})


# -- moved repos: the old name answers with a redirect ------------------------------------------------------------


def _moved_path(request: web.Request, namespace: str, name: str, new_id: str) -> str | None:
    raw = request.raw_path
    old = f"/{namespace}/{name}"
    at = raw.find(old)
    if at < 0:
        return None
    rest = raw[at + len(old) :]
    if rest and rest[0] not in "/?":
        return None
    return f"{raw[:at]}/{new_id}{rest}"


def _type_before(path: str, at_segment: str) -> str:
    """The repo type a path names before `/namespace/name`: /datasets/..., /api/spaces/..., else a model."""
    prefix = path[: path.find(at_segment)]
    for plural in ("datasets", "spaces"):
        if prefix.endswith(f"/{plural}"):
            return plural.removesuffix("s")
    return "model"


@web.middleware
async def follow_moved_repos(request: web.Request, handler: Any) -> web.StreamResponse:
    """A read of a repo by a name it had before a move gets a 307 to the same URL under its new name.

    Any route with `{namespace}/{name}` benefits (info, files, downloads). The Location is relative, which every
    client version follows. A repo the caller may not read stays a 404: its new name is not revealed.
    """
    try:
        return await handler(request)
    except ApiError as err:
        namespace, name = request.match_info.get("namespace"), request.match_info.get("name")
        if err.code != "RepoNotFound" or request.method not in ("GET", "HEAD") or not namespace or not name:
            raise
        if name_problem(namespace, "namespace") is not None or name_problem(name, "repo") is not None:
            raise  # never a name a repo had
        repo_type = _type_before(request.path, f"/{namespace}/{name}")
        pool = request.app[POOL]
        row = await store_listing.redirect_target(pool, repo_type, namespace, name)
        if row is None or not await can_read(pool, request.get(PRINCIPAL), row):
            raise
        location = _moved_path(request, namespace, name, f"{row['namespace']}/{row['name']}")
        if location is None:
            raise
        # Returned, not raised, so that the outer middlewares add X-Request-Id to it like to any answer.
        return web.Response(status=307, headers={"Location": location})
