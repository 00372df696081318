"""Thin views for reading history: tree, paths-info, refs, commits; branches and tags; repo info by revision."""

from __future__ import annotations

import html
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from services.catalog import commits, store_files
from services.catalog.access import raw_tail, readable_repo, true_param, writable_repo
from services.catalog.errors import catalog_error
from services.catalog.gitfiles import clean_folder, lfs_pointer
from services.catalog.mirror_trees import resolve_with_tree
from services.catalog.params import QueryBool
from services.catalog.responses import absent
from services.catalog.revisions import resolve, split_ref, split_rev_and_path
from services.catalog.tree import TreeItem, file_item, folder_item, listing
from services.runtime.http import iso_utc, json_response, read_json
from services.runtime.keys import CONFIG, OUTBOX, POOL, PRINCIPAL

CURSOR = 'Where the page starts: only as the `Link: rel="next"` URL carries it.'


class TreeParams(BaseModel):
    recursive: QueryBool = absent("Everything below the folder, not only its own entries.")
    expand: QueryBool = absent("Each entry's last commit (pages of 50 instead of 1000).")
    cursor: str = absent(CURSOR)


class RefsParams(BaseModel):
    include_prs: QueryBool = absent("Also list the pull request refs.")


class CommitsParams(BaseModel):
    expand: list[str] = absent(
        "`formatted` adds each commit's title and message as HTML; others are ignored.", alias="expand[]"
    )
    cursor: str = absent(CURSOR)


class CreateBranchBody(BaseModel):
    startingPoint: str | None = None  # a revision; main when left out


class CreateTagBody(BaseModel):
    tag: str
    message: str | None = None


class SquashBody(BaseModel):
    message: str | None = None  # the one commit's title; "Super-squash branch '...'" when left out


TREE_PAGE = 1000
TREE_PAGE_EXPANDED = 50  # the Hub's page sizes
COMMITS_PAGE = 50
MAX_PATHS_INFO = 1000


def _page(request: web.Request, items: list[Any], size: int) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` and, when more follow, an absolute `Link: <...>; rel="next"` carrying every param."""
    offset = _cursor(request)
    return items[offset : offset + size], _next_link(request, offset + size) if offset + size < len(items) else {}


def _cursor(request: web.Request) -> int:
    try:
        return max(int(request.query.get("cursor", "0")), 0)
    except ValueError as exc:
        raise catalog_error(400, "InvalidInput", "cursor must be the number given in the previous Link") from exc


def _next_link(request: web.Request, cursor: int) -> dict[str, str]:
    base = request.app[CONFIG].http.url.rstrip("/")
    next_url = base + str(request.rel_url.update_query(cursor=str(cursor)))
    return {"Link": f'<{next_url}>; rel="next"'}


async def _tree_json(pool: asyncpg.Pool, repo_id: str, items: list[TreeItem], expand: bool) -> list[dict[str, Any]]:
    out = [item.as_json() for item in items]
    if expand:
        shas = sorted({sha for item in items for sha in item.last_commits})
        found = await store_files.commits_by_sha(pool, repo_id, shas)
        for item, data in zip(items, out, strict=True):
            newest = max((found[s] for s in item.last_commits if s in found), key=lambda c: c["created_at"])
            data["lastCommit"] = {"id": newest["sha"], "title": newest["title"], "date": iso_utc(newest["created_at"])}
    return out


async def tree(request: web.Request) -> web.Response:
    repo = await readable_repo(request)
    rev_text, under = split_rev_and_path(raw_tail(request))
    under = clean_folder(under, "folder") if under else ""
    pool = request.app[POOL]
    rev = await resolve_with_tree(request, repo, rev_text)
    rows = await store_files.files(pool, repo["id"], rev.sha, under)
    if under and not rows:
        raise catalog_error(
            404, "EntryNotFound", f"no folder {under!r} at {rev_text}", headers={"X-Repo-Commit": rev.sha}
        )
    expand = true_param(request, "expand")
    items = listing(rows, under, recursive=true_param(request, "recursive"))
    page, headers = _page(request, items, TREE_PAGE_EXPANDED if expand else TREE_PAGE)
    return json_response(await _tree_json(pool, repo["id"], page, expand), headers=headers)


async def paths_info(request: web.Request) -> web.Response:
    """The entries for the paths that exist (files or folders); missing paths are left out, not an error."""
    repo = await readable_repo(request)
    form = await request.post()
    paths = [clean_folder(p, "path") for p in form.getall("paths", []) if isinstance(p, str)]
    if len(paths) > MAX_PATHS_INFO:
        raise catalog_error(400, "InvalidInput", f"ask for at most {MAX_PATHS_INFO} paths at a time")
    pool = request.app[POOL]
    rev = await resolve_with_tree(request, repo, request.match_info["rev"])
    files = {r["path"]: r for r in await store_files.files_at(pool, repo["id"], rev.sha, paths)}
    items = []
    for path in dict.fromkeys(paths):
        if path in files:
            items.append(file_item(files[path]))
        elif inside := await store_files.files(pool, repo["id"], rev.sha, path):
            items.append(folder_item(inside, path))
    expand = str(form.get("expand", "")).lower() in ("1", "true")
    return json_response(await _tree_json(pool, repo["id"], items, expand))


async def list_refs(request: web.Request) -> web.Response:
    repo = await readable_repo(request)
    groups: dict[str, list[dict[str, str]]] = {"branch": [], "convert": [], "tag": [], "pr": []}
    prefixes = {"branch": "refs/heads/", "convert": "refs/convert/", "tag": "refs/tags/", "pr": "refs/pr/"}
    for row in await store_files.refs(request.app[POOL], repo["id"]):
        ref = prefixes[row["kind"]] + row["name"]
        groups[row["kind"]].append({"name": row["name"], "ref": ref, "targetCommit": row["target"]})
    groups["pr"].sort(key=lambda r: int(r["name"]) if r["name"].isdigit() else 0)
    answer = {"branches": groups["branch"], "converts": groups["convert"], "tags": groups["tag"]}
    if true_param(request, "include_prs"):
        answer["pullRequests"] = groups["pr"]
    return json_response(answer)


async def list_commits(request: web.Request) -> web.Response:
    repo = await readable_repo(request)
    pool = request.app[POOL]
    rev_text = request.match_info["rev"]
    offset = _cursor(request)
    kind, name = split_ref(rev_text)
    rows = []
    if kind in (None, "branch"):  # a name is a branch first (as `resolve` reads it): tried in the same query
        rows = await store_files.history(pool, repo["id"], name, offset=offset, limit=COMMITS_PAGE + 1, branch=True)
    if not rows:  # not a branch, or past the end: resolved the long way (a 404 for what names nothing)
        rev = await resolve(pool, repo["id"], rev_text)
        rows = await store_files.history(pool, repo["id"], rev.sha, offset=offset, limit=COMMITS_PAGE + 1)
    formatted = "formatted" in request.query.getall("expand[]", [])
    items = []
    for row in rows[:COMMITS_PAGE]:
        item: dict[str, Any] = {
            "id": row["sha"],
            "authors": [{"user": row["author"]}],
            "date": iso_utc(row["created_at"]),
            "title": row["title"],
            "message": row["message"],
        }
        if formatted:
            item["formatted"] = {
                "title": f"<p>{html.escape(row['title'])}</p>",
                "message": f"<p>{html.escape(row['message'])}</p>" if row["message"] else "",
            }
        items.append(item)
    headers = _next_link(request, offset + COMMITS_PAGE) if len(rows) > COMMITS_PAGE else {}
    return json_response(items, headers=headers)


async def _json_object(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await read_json(request)
    if not isinstance(body, dict):
        raise catalog_error(400, "InvalidInput", "the body must be a JSON object")
    return body


async def create_branch(request: web.Request) -> web.Response:
    repo = await writable_repo(request)
    body = await _json_object(request)
    start = body.get("startingPoint") or "main"
    if not isinstance(start, str):
        raise catalog_error(400, "InvalidInput", "startingPoint must be a revision name")
    return await _in_transaction(request, commits.create_ref, repo, "branch", request.match_info["ref"], start)


async def create_tag(request: web.Request) -> web.Response:
    """`POST .../tag/{revision}` with the tag's name in the body (the Hub's shape)."""
    repo = await writable_repo(request)
    body = await _json_object(request)
    name, message = body.get("tag"), body.get("message")
    if not isinstance(name, str) or (message is not None and not isinstance(message, str)):
        raise catalog_error(400, "InvalidInput", "the body needs the tag's name as tag, and message a string")
    return await _in_transaction(request, commits.create_ref, repo, "tag", name, request.match_info["ref"], message)


async def delete_branch(request: web.Request) -> web.Response:
    repo = await writable_repo(request)
    return await _in_transaction(request, commits.delete_ref, repo, "branch", request.match_info["ref"])


async def delete_tag(request: web.Request) -> web.Response:
    repo = await writable_repo(request)
    return await _in_transaction(request, commits.delete_ref, repo, "tag", request.match_info["ref"])


async def super_squash(request: web.Request) -> web.Response:
    repo = await writable_repo(request)
    body = await _json_object(request)
    branch = request.match_info["ref"]
    message = body.get("message") or f"Super-squash branch '{branch}'"
    if not isinstance(message, str):
        raise catalog_error(400, "InvalidInput", "message must be a string")
    author = request[PRINCIPAL].user
    async with request.app[POOL].acquire() as conn, conn.transaction():
        sha = await commits.squash_branch(conn, request.app[OUTBOX], repo, branch, message, author=author)
    return json_response({"commitId": sha})


async def _in_transaction(request: web.Request, change: Any, *args: Any) -> web.Response:
    """Run a ref change `change(conn, outbox, *args)` in one transaction; the Hub answers `{}`."""
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await change(conn, request.app[OUTBOX], *args)
    return json_response({})


async def revision_fields(request: web.Request, repo: asyncpg.Record) -> dict[str, Any]:
    """`sha` and `siblings` of repo info, at `/revision/{rev}` or main (with sizes and LFS when blobs=true)."""
    pool = request.app[POOL]
    rev_text = request.match_info.get("rev")
    if rev_text is None:
        # The common read (info at main, a mirror's first call per repo): main's commit and files in one query.
        at_main = await store_files.branch_files(pool, repo["id"], "main")
        if at_main is None:
            return {"sha": repo["head_sha"], "siblings": []}  # a repo from before files existed
        sha, rows = at_main
    else:
        sha = (await resolve_with_tree(request, repo, rev_text)).sha
        rows = await store_files.files(pool, repo["id"], sha)
    blobs = true_param(request, "blobs")
    siblings = []
    for row in rows:
        sibling: dict[str, Any] = {"rfilename": row["path"]}
        if blobs:
            sibling |= {"size": row["size"], "blobId": row["git_oid"]}
            if row["lfs"]:
                pointer = len(lfs_pointer(row["sha256"], row["size"]))
                sibling["lfs"] = {"size": row["size"], "sha256": row["sha256"], "pointerSize": pointer}
        siblings.append(sibling)
    return {"sha": sha, "siblings": siblings}
