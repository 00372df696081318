"""Trees of older commits of mirrored repos: fetched from the upstream on their first read, then kept here.

A sync copies a mirrored repo's commit list, but the tree (file list) only of the commits its refs point at; the
others are marked `tree_missing`. A read at such a commit (tree, paths-info, info at the revision, a file's HEAD or
download) first fetches its tree from the upstream, with the mirror's token, through the call a sync reads the
trees at the refs with (`Upstream.tree`), and stores it in the sync's tables; the read then goes on as for any
commit, and files at that commit download through the fetch-and-cache path (mirror_files.py). Only commits of the
copied history get here: any other sha is a 404 RevisionNotFound before the upstream is asked anything (else anyone
could make the mirror fetch what they like). When the upstream cannot give the tree, the read is a 502 naming it,
after bounded timeouts: never an empty tree. A tree once stored is served also when the upstream is down.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from services.catalog import store_mirror
from services.catalog.errors import catalog_error
from services.catalog.keys import MIRROR_API
from services.catalog.mirror_files import CONNECT_TIMEOUT, READ_TIMEOUT, upstream_of
from services.catalog.mirror_upstream import Retry, Upstream, UpstreamError
from services.catalog.revisions import Revision, resolve
from services.runtime.keys import POOL

# A reader waits: two tries (a lone 5xx or dropped connection is ridden over), with the file fetch's timeouts.
READ_RETRY = Retry(attempts=2, base=0.5, cap=0.5, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)


async def resolve_with_tree(request: web.Request, repo: asyncpg.Record, rev_text: str) -> Revision:
    """The commit `rev_text` names in `repo` (else 404), with its tree here: what every read of the files at a
    revision starts with, so that none of them answers a mirrored repo's older commit with an empty tree."""
    rev = await resolve(request.app[POOL], repo["id"], rev_text)
    await _ensure_tree(request, repo, rev)
    return rev


async def _ensure_tree(request: web.Request, repo: asyncpg.Record, rev: Revision) -> None:
    """Make sure the tree at `rev` of `repo` is here (fetched from a mirrored repo's upstream if need be), or 502."""
    if repo["mirror"] is None:
        return
    pool = request.app[POOL]
    if not await store_mirror.tree_missing(pool, repo["id"], rev.sha):
        return
    repo_id = f"{repo['namespace']}/{repo['name']}"
    missing = f"the tree of {repo['repo_type']} {repo_id} at {rev.sha} is not copied"
    base, token = await upstream_of(request.app, repo, missing)
    upstream = Upstream(request.app[MIRROR_API], base, token, READ_RETRY)
    try:
        files = await upstream.tree(repo["repo_type"], repo_id, rev.sha)
    except UpstreamError as exc:
        why = f"{missing} here yet, and the upstream Hub {base} did not give it: {exc}"
        raise catalog_error(502, "UpstreamUnavailable", why) from exc
    await store_mirror.insert_tree(pool, repo["id"], rev.sha, [(f.path, f.size, f.sha256, f.git_oid) for f in files])
