"""Files of mirrored repos: fetched from the upstream on their first download, cached, then served from here.

The first download streams the upstream's bytes to the client while writing them to the blob store, and
checks them against the upstream's hash (the LFS sha256, or the git blob id of a regular file). The last
piece is held back until the check passes: on a mismatch the connection is cut before the client has the
whole file (so it sees a short download, never a wrong file), and nothing is cached. A cached file is served
like any other, also when the upstream is down; an uncached one then gets a 502 naming the upstream, after
bounded timeouts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
from aiohttp import web

from services.catalog import store_mirror
from services.catalog.blobs import CHUNK, BlobMismatch
from services.catalog.errors import catalog_error
from services.catalog.keys import BLOBS, MIRROR_API, MIRROR_HTTP
from services.catalog.mirror_tokens import MIRROR_TOKENS, TokenUnreadable, mirror_tokens_ctx, unseal
from services.catalog.mirror_upstream import file_url
from services.runtime.errors import ApiError
from services.runtime.keys import POOL

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0  # between two reads: a stalled upstream ends the download, it never hangs


async def session_ctx(app: web.Application) -> AsyncIterator[None]:
    # Files pass through byte for byte (verified, cached as sent); API answers (older trees) are read as JSON.
    async with aiohttp.ClientSession(auto_decompress=False) as files, aiohttp.ClientSession() as api:
        app[MIRROR_HTTP] = files
        app[MIRROR_API] = api
        yield


def setup_mirror_files(app: web.Application) -> None:
    app.cleanup_ctx.append(session_ctx)
    app.cleanup_ctx.append(mirror_tokens_ctx)


async def cached_blob(app: web.Application, entry: asyncpg.Record) -> str | None:
    """The sha256 of a mirrored file's content if the blob store holds it, else None."""
    sha256 = entry["sha256"]
    if not sha256:
        sha256 = (await store_mirror.known_sha256(app[POOL], [entry["git_oid"]])).get(entry["git_oid"], "")
    return sha256 if sha256 and await app[BLOBS].exists(sha256) else None


async def upstream_of(app: web.Application, repo: asyncpg.Record, missing: str) -> tuple[str, str | None]:
    """The URL of a mirrored repo's upstream and the mirror's token, opened; else a 502 saying what is `missing`
    here and why the upstream cannot be asked for it."""
    upstream = await store_mirror.upstream_of(app[POOL], repo["mirror"])
    if upstream is None:
        raise catalog_error(502, "UpstreamUnavailable", f"{missing} and its mirror is gone")
    base, sealed = upstream
    try:
        return base, unseal(app[MIRROR_TOKENS], sealed, repo["mirror"])
    except TokenUnreadable as exc:
        raise catalog_error(502, "UpstreamUnavailable", f"{missing} here: {exc}") from exc


async def fetch(
    request: web.Request,
    repo: asyncpg.Record,
    entry: asyncpg.Record,
    commit: str,
    headers: dict[str, str] | None,
) -> web.StreamResponse | str:
    """Fetch the file from the upstream into the cache; with `headers`, stream it to the client as well
    (and return that response), else return the cached blob's sha256."""
    app = request.app
    where = f"{repo['repo_type']} {repo['namespace']}/{repo['name']}"
    base, token = await upstream_of(app, repo, f"{entry['path']} of {where} is not cached")
    url = file_url(base, repo["repo_type"], f"{repo['namespace']}/{repo['name']}", commit, entry["path"])
    timeout = aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT)
    auth = {"Authorization": f"Bearer {token}"} if token else {}

    def unavailable(why: str) -> ApiError:
        return catalog_error(
            502,
            "UpstreamUnavailable",
            f"{entry['path']} of {where} is not cached here yet, and the upstream Hub {base} did not give it: {why}",
        )

    try:
        upstream_response = await app[MIRROR_HTTP].get(url, headers=auth, timeout=timeout)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise unavailable(str(exc) or type(exc).__name__) from exc
    async with upstream_response:
        if upstream_response.status != 200:
            raise unavailable(f"it answered {upstream_response.status}")
        response: web.StreamResponse | None = None
        if headers is not None:
            response = web.StreamResponse(status=200, headers=headers)
            response.content_length = entry["size"]
            await response.prepare(request)
        held = b""
        git = None if entry["lfs"] else hashlib.sha1(f"blob {entry['size']}\0".encode(), usedforsecurity=False)

        async def pieces() -> AsyncIterator[bytes]:
            nonlocal held
            async for piece in upstream_response.content.iter_chunked(CHUNK):
                if response is not None and held:
                    await response.write(held)
                held = piece
                if git is not None:
                    git.update(piece)
                yield piece
            if git is not None and git.hexdigest() != entry["git_oid"]:
                raise BlobMismatch(f"its git blob id is {git.hexdigest()}, the upstream announced {entry['git_oid']}")

        try:
            stored = await app[BLOBS].put(
                pieces(), expect_sha256=entry["sha256"] if entry["lfs"] else None, expect_size=entry["size"]
            )
        except (BlobMismatch, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("mirror %s: %s of %s from %s not cached: %s", repo["mirror"], entry["path"], where, base, exc)
            if response is None:
                raise unavailable(f"the bytes it sent are not the file it announced ({exc})") from exc
            # The client lacks the last piece: cut the connection, so it sees a short download, not a wrong file.
            if request.transport is not None:
                request.transport.abort()
            return response
        if not entry["lfs"]:
            async with app[POOL].acquire() as conn, conn.transaction():
                await store_mirror.learn_sha256(conn, repo["id"], entry["git_oid"], stored.sha256)
        if response is None:
            return stored.sha256
        if held:
            await response.write(held)
        await response.write_eof()
        return response
