"""`hubstream mirror`: follow an upstream Hub (huggingface.co or another hubstream catalog).

add NAME UPSTREAM_URL [--token T] [--repo TYPE/OWNER/NAME ...] [--author OWNER ...] [--search TEXT]
    [--collection SLUG ...] [--every SECONDS]       what to follow (--author: the owner's repos and collections);
                                                    --every syncs on a schedule
sync NAME [--wait]                                  ask for a sync (an event on hubstream.catalog.mirror); --wait
                                                    follows it with a progress bar, prints what changed, and
                                                    exits 1 if it failed
status [NAME]                                       last sync, state, counts, last error, staleness, reachability
remove NAME                                         stop following it; its copies are deleted (repos with their
                                                    events, and collections)

The catalog worker (`hubstream worker catalog`, run by `hubstream up`) carries the syncs out.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import orjson
from tqdm import tqdm

from services.cli.common import Commands, in_catalog_transaction, operator_infra
from services.runtime.outbox import Outbox

REPO_SPEC = re.compile(r"^(model|dataset|space)/[^/\s]+/[^/\s]+$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
POLL_SECONDS = 0.5
NO_WORKER_HINT_SECONDS = 15.0
PROBE_TIMEOUT = 3.0


def register(commands: Commands) -> None:
    mirror = commands.group("mirror", "follow an upstream Hub: copy its repos' metadata and collections, cache files")
    add = mirror.action("add", "record what to follow from an upstream Hub", in_catalog_transaction(_add))
    add.add_argument("name")
    add.add_argument("upstream_url", help="e.g. https://huggingface.co or another hubstream catalog's URL")
    add.add_argument(
        "--token", help="sent to the upstream as a Bearer token; stored encrypted with the catalog's secrets key"
    )
    add.add_argument("--repo", action="append", default=[], metavar="TYPE/OWNER/NAME", help="e.g. dataset/org/name")
    add.add_argument(
        "--author", action="append", default=[], metavar="OWNER", help="every repo and collection of this owner"
    )
    add.add_argument("--search", help="every repo whose id contains this text")
    add.add_argument(
        "--collection", action="append", default=[], metavar="SLUG", help="e.g. owner/title-slug-<24 hex id>"
    )
    add.add_argument("--every", type=int, metavar="SECONDS", help="sync on this schedule")
    sync = mirror.action("sync", "ask for a sync of a mirror", _sync)
    sync.add_argument("name")
    sync.add_argument("--wait", action="store_true", help="follow it to its end; exit 1 if it failed")
    status = mirror.action("status", "each mirror's last sync, state, counts, error and staleness", _status)
    status.add_argument("name", nargs="?")
    mirror.action(
        "remove", "stop following a mirror and delete its copies", in_catalog_transaction(_remove)
    ).add_argument("name")


def _fail(message: str) -> int:
    print(f"hubstream: {message}", file=sys.stderr)
    return 1


async def _add(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import store_mirror
    from services.catalog.mirror_collections import slug_id
    from services.catalog.mirror_tokens import seal, tokens_cipher

    if not NAME.match(args.name):
        return _fail(f"{args.name!r} is not a mirror name: letters, digits, '.', '_' and '-', 96 at most")
    if not re.match(r"^https?://[^/\s]+", args.upstream_url):
        return _fail(f"{args.upstream_url!r} is not an http(s) URL")
    if bad := [r for r in args.repo if not REPO_SPEC.match(r)]:
        return _fail(f"--repo {bad[0]!r} is not TYPE/OWNER/NAME with TYPE model, dataset or space")
    if bad := [c for c in args.collection if slug_id(c) is None]:
        return _fail(f"--collection {bad[0]!r} is not a collection slug: OWNER/title-slug-<24 hex id>")
    if args.every is not None and args.every <= 0:
        return _fail("--every takes a number of seconds above 0")
    if not (args.repo or args.author or args.search or args.collection):
        return _fail("say what to follow: --repo, --author, --search or --collection")
    added = await store_mirror.insert_mirror(
        conn,
        name=args.name,
        upstream_url=args.upstream_url.rstrip("/"),
        # Sealed with the catalog's secrets key in the state dir, never stored or shown in plain text.
        token_sealed=seal(tokens_cipher(operator_infra().home), args.token),
        repos=args.repo,
        authors=args.author,
        search=args.search,
        collections=args.collection,
        every_seconds=args.every,
    )
    if not added:
        return _fail(f"a mirror named {args.name!r} exists; `hubstream mirror remove {args.name}` first")
    print(f"mirror {args.name} follows {args.upstream_url}" + (f", synced every {args.every} s" if args.every else ""))
    return 0


async def _remove(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import store_mirror, store_mirror_collections
    from services.catalog.mirror_sync import delete_copy

    if await store_mirror.mirror(conn, args.name) is None:
        return _fail(f"no mirror named {args.name!r}")
    copies = await store_mirror.mirrored(conn, args.name)
    for row in copies:
        await delete_copy(conn, outbox, row["id"], row["repo_type"], f"{row['namespace']}/{row['name']}")
    collections = await store_mirror_collections.delete_copies(conn, args.name)
    await store_mirror.delete_mirror(conn, args.name)
    print(f"mirror {args.name} removed, with its {len(copies)} copied repos and {collections} copied collections")
    return 0


async def _connect() -> asyncpg.Connection:
    from services.operator import catalog_connection

    conn, _ = await catalog_connection(operator_infra())
    return conn


def _sync(args: argparse.Namespace) -> int:
    return asyncio.run(_sync_async(args))


async def _sync_async(args: argparse.Namespace) -> int:
    from services.catalog import store_mirror
    from services.catalog.mirror_worker import request_sync
    from services.operator import catalog_connection

    conn, outbox = await catalog_connection(operator_infra())
    try:
        async with conn.transaction():
            mirror = await store_mirror.mirror(conn, args.name)
            if mirror is None:
                return _fail(f"no mirror named {args.name!r}; `hubstream mirror add` records one")
            requested_at = await conn.fetchval("SELECT now()")
            sync_id = await request_sync(conn, outbox, args.name, mirror["upstream_url"])
        print(f"sync {sync_id} of mirror {args.name} requested")
        if not args.wait:
            return 0
        return await _wait(conn, args.name, requested_at)
    finally:
        await conn.close()


async def _wait(conn: asyncpg.Connection, name: str, requested_at: datetime) -> int:
    """Follow the mirror's row until a sync ends after the request (one that was already running meets it too)."""
    from services.catalog import store_mirror

    bar: tqdm | None = None
    waited = 0.0
    try:
        while True:
            row = await store_mirror.mirror(conn, name)
            if row is None:
                return _fail(f"mirror {name} was removed while waiting")
            ended = row["finished_at"] is not None and row["finished_at"] >= requested_at
            if ended and row["state"] in ("succeeded", "failed"):
                if bar is not None:
                    bar.update(max(0, (bar.total or 0) - bar.n))
                    bar.close()
                    bar = None
                return _report(row)
            if row["state"] == "running":
                if bar is None:
                    bar = tqdm(desc=f"mirror {name}", unit="repos", dynamic_ncols=True)
                if row["progress_total"] and bar.total != row["progress_total"]:
                    bar.total = row["progress_total"]
                bar.update(row["progress_done"] - bar.n)
            elif waited >= NO_WORKER_HINT_SECONDS and bar is None and waited - POLL_SECONDS < NO_WORKER_HINT_SECONDS:
                print(f"mirror {name}: not started yet; is the catalog worker running (`hubstream worker catalog`)?",
                      file=sys.stderr)  # fmt: skip
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS
    finally:
        if bar is not None:
            bar.close()


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _counts(row: asyncpg.Record) -> str:
    """Repos' counts; then the collections', when the mirror follows any."""
    counts = _json(row["counts"]) or {}
    kinds = ("created", "updated", "deleted", "unchanged", "failed")
    text = ", ".join(f"{counts.get(k, 0)} {k}" for k in kinds)
    if isinstance(collections := counts.get("collections"), dict):
        text += "; collections: " + ", ".join(f"{collections.get(k, 0)} {k}" for k in kinds)
    return text


def _report(row: asyncpg.Record) -> int:
    for change in _json(row["changes"]) or []:
        print(f"  {change}")
    if row["state"] == "succeeded":
        print(f"mirror {row['name']}: sync completed: {_counts(row)}")
        return 0
    print(f"mirror {row['name']}: sync failed: {_counts(row)}", file=sys.stderr)
    print(f"  error: {row['last_error']}", file=sys.stderr)
    return 1


def _status(args: argparse.Namespace) -> int:
    return asyncio.run(_status_async(args.name))


async def _probe(session: aiohttp.ClientSession, url: str) -> str | None:
    """None if the upstream answers now, else why not."""
    try:
        timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
        async with session.get(f"{url}/api/models", params={"limit": "1"}, timeout=timeout) as response:
            return None if response.status < 500 else f"it answers {response.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return str(exc) or type(exc).__name__


def _age(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    seconds = int((now - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


async def _status_async(name: str | None) -> int:
    from services.catalog import store_mirror

    conn = await _connect()
    try:
        rows = await store_mirror.mirrors(conn)
    finally:
        await conn.close()
    if name is not None:
        rows = [r for r in rows if r["name"] == name]
        if not rows:
            return _fail(f"no mirror named {name!r}")
    if not rows:
        print("no mirrors; `hubstream mirror add NAME URL ...` records one")
        return 0
    now = datetime.now(UTC)
    async with aiohttp.ClientSession() as session:
        problems = await asyncio.gather(*(_probe(session, r["upstream_url"]) for r in rows))
    for row, problem in zip(rows, problems, strict=True):
        follows = [*row["repos"], *(f"author {a}" for a in row["authors"])]
        follows += [f"collection {c}" for c in row["collections"]]
        if row["search"]:
            follows.append(f"search {row['search']!r}")
        schedule = f", every {row['every_seconds']} s" if row["every_seconds"] else ""
        print(f"{row['name']}: {row['upstream_url']} ({', '.join(follows) or 'nothing'}{schedule})")
        state = row["state"]
        if state == "running":
            state += f" ({row['progress_done']}/{row['progress_total'] or '?'} repos)"
        print(f"  token: {'set (stored encrypted)' if row['token_sealed'] is not None else 'none'}")
        print(f"  state: {state}; last sync ended {_age(row['finished_at'], now)}; "
              f"last success {_age(row['last_success_at'], now)} (stale by that much)")  # fmt: skip
        if row["finished_at"] is not None:
            print(f"  counts: {_counts(row)}")
        if row["last_error"]:
            print(f"  last error: {row['last_error']}")
        if problem is not None:
            print(f"  upstream: UNREACHABLE now ({problem}); cached files are still served")
        else:
            print("  upstream: reachable")
    return 0
