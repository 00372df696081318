"""Which repo a request names, and whether the caller may read or write it (Hub rules)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiohttp import web

from services.catalog import lfs, store
from services.catalog.commits import own_open_pr, reader_refused
from services.catalog.errors import catalog_error
from services.catalog.names import name_problem
from services.catalog.params import flag
from services.catalog.repos import URL_PREFIX, can_read, can_write_repo, refuse_mirrored
from services.runtime.auth import Principal, require_principal
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


def require_poster(request: web.Request) -> Principal:
    """Who opens, comments on or changes a discussion or pull request: anyone signed in who can read the repo,
    but not with a read-only token, which writes nothing on the Hub (403 Forbidden)."""
    principal = require_principal(request)
    refuse_read_only(principal, "open, comment on or change discussions with it")
    return principal


def refuse_read_only(principal: Principal, doing: str) -> None:
    """403 Forbidden for a read-only token, saying what it cannot do."""
    if principal.role == "read":
        raise catalog_error(403, "Forbidden", f"your token is read-only: {principal.user} cannot {doing}")


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


@dataclass(frozen=True)
class Committer:
    """Who commits to a repo, and how: a writer anywhere, or a reader (who may read the repo, with a token
    that writes) only to pull requests of their own."""

    repo: asyncpg.Record
    user: str
    reader: bool
    create_pr: bool


async def committer(request: web.Request) -> Committer:
    """The repo and the caller, if they may commit to the URL's `{rev}` with its `create_pr` (see `_committer`);
    401 without a token before anything else is looked at."""
    principal = require_principal(request)
    return await _committer(request, principal, request.match_info["rev"], true_param(request, "create_pr"))


async def batch_committer(request: web.Request, body: object) -> Committer:
    """The same for an LFS batch: the ref its body names, or none for a PR not opened yet (the client's way)."""
    principal = require_principal(request)
    rev = lfs.batch_ref(body)
    return await _committer(request, principal, rev, rev is None)


async def _committer(request: web.Request, principal: Principal, rev: str | None, create_pr: bool) -> Committer:
    """As the Hub decides: writers commit anywhere; anyone else who can read the repo (a read-only token cannot)
    only with create_pr=True or to `refs/pr/N` of an open PR they opened. 404 if invisible, 403 MirrorReadOnly
    for a copy, 403 Forbidden otherwise (the commit checks the PR again under the repo's lock)."""
    row = await readable_repo(request)
    refuse_mirrored(row)
    pool = request.app[POOL]
    if await can_write_repo(pool, principal, row):
        return Committer(row, principal.user, reader=False, create_pr=create_pr)
    refuse_read_only(principal, f"write to {row['namespace']}/{row['name']}")
    if create_pr or (rev is not None and await own_open_pr(pool, row["id"], rev, principal.user)):
        return Committer(row, principal.user, reader=True, create_pr=create_pr)
    raise reader_refused(row, principal.user)


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
