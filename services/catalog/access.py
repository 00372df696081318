"""Which repo a request names, and whether the caller may read or write it (Hub rules)."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from services.catalog import store
from services.catalog.errors import catalog_error
from services.catalog.names import name_problem
from services.catalog.params import flag
from services.catalog.repos import URL_PREFIX, can_read, can_write_repo, refuse_mirrored
from services.runtime.auth import require_principal
from services.runtime.keys import CONFIG, POOL, PRINCIPAL


def repo_type_of(request: web.Request) -> str:
    """From `/api/{type}s/...` or from the git-style prefix (`datasets/`, `spaces/`, none for models)."""
    plural = request.match_info.get("type") or request.match_info.get("prefix") or "models"
    return plural.removesuffix("s")


async def readable_repo(request: web.Request) -> asyncpg.Record:
    """The repo the URL names; 404 RepoNotFound when it is missing or the caller may not see it."""
    repo_type = repo_type_of(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    for value, what in ((namespace, "namespace"), (name, "repo")):
        if (problem := name_problem(value, what)) is not None:
            raise catalog_error(400, "InvalidName", problem)
    pool = request.app[POOL]
    row = await store.repo(pool, repo_type, namespace, name)
    if row is None or not await can_read(pool, request.get(PRINCIPAL), row):
        raise catalog_error(404, "RepoNotFound", f"Repository Not Found for url: {request.url}.")
    return row


async def writable_repo(request: web.Request) -> asyncpg.Record:
    """The repo, if the caller may push to it: 401 without a token, 404 if invisible, 403 if read-only."""
    principal = require_principal(request)
    row = await readable_repo(request)
    refuse_mirrored(row)
    if not await can_write_repo(request.app[POOL], principal, row):
        raise catalog_error(
            403, "Forbidden", f"you ({principal.user}) cannot write to {row['namespace']}/{row['name']}"
        )
    return row


def repo_url(request: web.Request, repo: asyncpg.Record) -> str:
    base = request.app[CONFIG].http.url.rstrip("/")
    return f"{base}/{URL_PREFIX[repo['repo_type']]}{repo['namespace']}/{repo['name']}"


def raw_tail(request: web.Request) -> list[str]:
    """The still-encoded path segments after `/resolve/`, `/tree/`... (so `%2F` stays inside one segment).

    Routes put the repo name at a fixed place: `/api/{type}/{ns}/{name}/<marker>/`,
    `/{prefix}/{ns}/{name}/<marker>/` or `/{ns}/{name}/<marker>/`.
    """
    segments = request.rel_url.raw_path.split("/")
    if segments[1] == "api":
        name_at = 4
    else:
        name_at = 3 if "prefix" in request.match_info else 2
    return segments[name_at + 2 :]


def true_param(request: web.Request, key: str) -> bool:
    """A boolean query parameter (true/True/1, false/False/0; absent: false); another value is a 400."""
    return flag(request.query, key)
