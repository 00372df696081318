"""One sync of a mirror: find what the upstream shows, copy what changed, delete what went.

Incremental: a repo whose sha and lastModified are those of its last copy is not fetched again (the listing
shows both, so an unchanged repo followed through `--author`/`--search` costs no request of its own). Each
repo is written in one transaction with the repo event it causes (its old state or its new one, never half),
so a sync that fails part-way leaves finished repos copied and the others as they were; the next sync
carries on from there. A repo that cannot be copied is counted as failed and named in the error; the others
go on. Deletions happen only when every listing was read to its end (a cut listing proves nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from contracts.catalog import RepoCreated, RepoDeleted, RepoUpdated, UpdatedRef
from services.catalog import store_files, store_mirror
from services.catalog.mirror_collections import copy_collections
from services.catalog.mirror_upstream import (
    PLURAL,
    Listed,
    Upstream,
    UpstreamError,
    UpstreamGone,
    UpstreamRepo,
    UpstreamUnreachable,
)
from services.catalog.revisions import FULL_REF
from services.runtime.outbox import Outbox

log = logging.getLogger(__name__)

PARALLEL_REPOS = 8
PARALLEL_LISTINGS = 4
MAX_ERRORS_SHOWN = 5
MAX_CHANGES_KEPT = 200
REPO_TYPES = ("model", "dataset", "space")


class MirrorConflict(UpstreamError):
    """A local repo that is not this mirror's copy already has the name."""


@dataclass
class SyncOutcome:
    # Repos' counts; and, when the mirror follows collections, theirs under "collections" (mirror_collections.py).
    counts: dict[str, Any] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0, "failed": 0}
    )
    changes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reachable: bool = True

    def note(self, what: str, repo_type: str, repo_id: str) -> None:
        self.counts[what] += 1
        if len(self.changes) < MAX_CHANGES_KEPT:
            self.changes.append(f"{what} {repo_type} {repo_id}")

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_text(self) -> str | None:
        if not self.errors:
            return None
        more = len(self.errors) - MAX_ERRORS_SHOWN
        return "; ".join(self.errors[:MAX_ERRORS_SHOWN]) + (f"; and {more} more" if more > 0 else "")


Progress = Callable[[int, int], Awaitable[None]]


async def sync_mirror(
    pool: asyncpg.Pool, outbox: Outbox, mirror: asyncpg.Record, upstream: Upstream, progress: Progress
) -> SyncOutcome:
    outcome = SyncOutcome()
    name = mirror["name"]
    known = {(r["repo_type"], f"{r['namespace']}/{r['name']}"): r for r in await store_mirror.mirrored(pool, name)}
    try:
        wanted, complete = await _wanted(mirror, upstream, outcome)
    except UpstreamUnreachable as exc:
        outcome.reachable = False
        outcome.errors.append(str(exc))
        return outcome
    total = len(wanted.keys() | known.keys())
    await progress(0, total)
    done = 0
    gone: set[tuple[str, str]] = set()
    unreachable: list[UpstreamUnreachable] = []
    queue = iter(wanted.items())

    async def worker() -> None:
        # PARALLEL_REPOS workers take the repos in turn (not a task per repo: 100,000 of them cost memory
        # and scheduling for nothing, and most are unchanged in an incremental sync).
        nonlocal done
        for key, listed in queue:
            if unreachable:
                return
            try:
                await _copy_one(pool, outbox, name, upstream, key, listed, known.get(key), outcome)
            except UpstreamGone:
                gone.add(key)
            except UpstreamUnreachable as exc:
                unreachable.append(exc)
            except (UpstreamError, asyncpg.PostgresError) as exc:
                outcome.counts["failed"] += 1
                outcome.errors.append(f"{key[0]} {key[1]}: {exc}")
                log.warning("mirror %s: could not copy %s %s: %s", name, key[0], key[1], exc)
            done += 1
            if done % 50 == 0:
                await progress(done, total)

    await asyncio.gather(*(worker() for _ in range(PARALLEL_REPOS)))
    if unreachable:
        outcome.reachable = False
        outcome.errors.insert(0, str(unreachable[0]))
        return outcome
    # Gone upstream: asked for by name and answered 404, or no longer in complete listings.
    to_delete = [key for key in known if key in gone or (complete and key not in wanted)]
    for key in to_delete:
        async with pool.acquire() as conn, conn.transaction():
            deleted = await delete_copy(conn, outbox, known[key]["id"], *key)
        if deleted:
            outcome.note("deleted", *key)
        done += 1
    await copy_collections(pool, mirror, upstream, outcome)
    await progress(total, total)
    return outcome


async def _wanted(
    mirror: asyncpg.Record, upstream: Upstream, outcome: SyncOutcome
) -> tuple[dict[tuple[str, str], Listed | None], bool]:
    """What the mirror follows, as the upstream shows it now; and whether every listing was read to its end.

    The listings (each author's and the search's, of each repo type) are read PARALLEL_LISTINGS at a time: an
    incremental sync of a large mirror is mostly this walk, and one listing at a time leaves the upstream, its
    database and this process waiting on each other page after page."""
    wanted: dict[tuple[str, str], Listed | None] = {}
    for spec in mirror["repos"]:
        repo_type, _, repo_id = spec.partition("/")
        wanted[(repo_type, repo_id)] = None
    queries = [{"author": a} for a in mirror["authors"]] + ([{"search": mirror["search"]}] if mirror["search"] else [])
    listings = [(repo_type, query) for query in queries for repo_type in REPO_TYPES]
    read: list[list[Listed]] = [[] for _ in listings]  # what each listing showed (until it failed, if it did)
    failures: dict[int, str] = {}  # listing -> why it ended part-way
    unreachable: list[UpstreamUnreachable] = []
    turns = iter(enumerate(listings))

    async def reader() -> None:
        for i, (repo_type, query) in turns:
            if unreachable:
                return
            try:
                async for item in upstream.listing(repo_type, query):
                    read[i].append(item)
            except UpstreamUnreachable as exc:
                unreachable.append(exc)
            except UpstreamError as exc:
                failures[i] = f"listing {PLURAL[repo_type]} {query}: {exc}"

    await asyncio.gather(*(reader() for _ in range(PARALLEL_LISTINGS)))
    if unreachable:
        raise unreachable[0]
    outcome.errors += [failures[i] for i in sorted(failures)]
    for (repo_type, _), items in zip(listings, read, strict=True):
        for item in items:
            wanted[(repo_type, item.repo_id)] = item
    return wanted, not failures


async def _copy_one(
    pool: asyncpg.Pool,
    outbox: Outbox,
    mirror: str,
    upstream: Upstream,
    key: tuple[str, str],
    listed: Listed | None,
    known: asyncpg.Record | None,
    outcome: SyncOutcome,
) -> None:
    repo_type, repo_id = key
    if known is not None and listed is not None and _same(known, listed.sha, listed.last_modified):
        outcome.counts["unchanged"] += 1
        return
    info = await upstream.info(repo_type, repo_id)
    if known is not None and _same(known, info.get("sha"), info.get("lastModified")):
        outcome.counts["unchanged"] += 1
        return
    repo = await upstream.repo(repo_type, repo_id, info)
    async with pool.acquire() as conn, conn.transaction():
        what = await write_repo(conn, outbox, mirror, repo)
    outcome.note(what, repo_type, repo_id)


def _same(known: asyncpg.Record, sha: object, modified: object) -> bool:
    return sha is not None and known["upstream_sha"] == sha and known["upstream_modified"] == (modified or "")


async def write_repo(conn: asyncpg.Connection, outbox: Outbox, mirror: str, up: UpstreamRepo) -> str:
    """Write one repo's new state in the caller's transaction, with its event; "created" or "updated"."""
    namespace, name = up.repo_id.split("/", 1)
    found = await store_mirror.repos_for_update(conn, up.repo_type, namespace, name, up.upstream_id)
    by_name = [r for r in found if (r["repo_type"], r["namespace"], r["name"]) == (up.repo_type, namespace, name)]
    row = by_name[0] if by_name else None
    fields = store_mirror.CopyFields(
        head_sha=up.sha,
        private=up.private,
        gated=up.gated,
        card_data=up.card_data,
        tags=up.tags,
        likes=up.likes,
        downloads=up.downloads,
        created_at=up.created_at or up.modified_at,
        updated_at=up.modified_at or up.created_at,
        sdk=up.sdk,
        upstream_sha=up.sha,
        upstream_modified=up.last_modified,
    )
    if row is not None and row["mirror"] != mirror:
        raise MirrorConflict(
            f"a {up.repo_type} {up.repo_id} that is not a copy from mirror {mirror!r} exists here; it is left alone"
        )
    if row is None:
        # Renamed upstream (same id, new name): the copy under the old name goes, the new name is created.
        if found:  # the one row left is the repo that has the id
            old = found[0]
            if old["mirror"] != mirror:
                raise MirrorConflict(f"the id {up.upstream_id} of {up.repo_id} is taken by a local repo")
            await delete_copy(conn, outbox, old["id"], old["repo_type"], f"{old['namespace']}/{old['name']}")
        # The whole row at once (with the account it needs and its bookkeeping): no UPDATE of a fresh row,
        # which would add a second entry to each of the repos table's many indexes.
        await store_mirror.insert_mirrored_repo(
            conn,
            repo_id=up.upstream_id,
            repo_type=up.repo_type,
            namespace=namespace,
            name=name,
            mirror=mirror,
            fields=fields,
        )
        await _write_history(conn, up.upstream_id, up)
    else:
        local_id = row["id"]
        old_refs = {FULL_REF[r["kind"]] + r["name"]: r["target"] for r in await store_files.refs(conn, local_id)}
        old_main = (
            {f["path"]: (f["size"], f["git_oid"]) for f in await store_files.files(conn, local_id, row["head_sha"])}
            if row["head_sha"]
            else {}
        )
        await store_mirror.clear_history(conn, local_id, list(up.commits))
        await _write_history(conn, local_id, up)
        await store_mirror.set_copy_fields(conn, local_id, mirror=mirror, fields=fields)
    if row is None:
        await outbox.add(
            conn,
            RepoCreated(
                repo_type=up.repo_type,  # type: ignore[arg-type]
                repo_id=up.repo_id,
                private=up.private,
                author=namespace,
                head_sha=up.sha,
            ),
        )
        return "created"
    new_refs = {FULL_REF[kind] + ref: target for kind, ref, target in up.refs}
    new_main = {f.path: (f.size, f.git_oid) for f in up.files}
    changed = sorted(p for p in old_main.keys() | new_main.keys() if old_main.get(p) != new_main.get(p))
    await outbox.add(
        conn,
        RepoUpdated(
            repo_type=up.repo_type,  # type: ignore[arg-type]
            repo_id=up.repo_id,
            head_sha=up.sha,
            updated_refs=[
                UpdatedRef(ref=ref, old_sha=old_refs.get(ref), new_sha=new_refs.get(ref))
                for ref in sorted(old_refs.keys() | new_refs.keys())
                if old_refs.get(ref) != new_refs.get(ref)
            ],
            changed_paths=changed[:5000],
            changed_paths_truncated=len(changed) > 5000,
        ),
    )
    return "updated"


async def _write_history(conn: asyncpg.Connection, repo_id: str, up: UpstreamRepo) -> None:
    """Commits (with their parents and dates), the file list at each ref's commit, and the refs. The other commits
    are marked as missing their tree: a read at one fetches it from the upstream then (mirror_trees.py)."""
    owner = up.repo_id.split("/")[0]
    # A parent outside what was copied (a history longer than the cap) is cut: history ends there.
    commits = [
        (
            c.sha,
            c.parent if c.parent in up.commits else None,
            c.title,
            c.message,
            c.author or owner,
            c.date or up.modified_at,
            c.sha not in up.trees,
        )
        for c in up.commits.values()
    ]
    # An LFS file's git blob id is that of its pointer; a regular file's sha256 is learnt on first download.
    files = [(sha, f.path, f.size, f.sha256, f.git_oid) for sha, tree in up.trees.items() for f in tree]
    await store_mirror.insert_history(conn, repo_id, commits, files, up.refs)


async def delete_copy(conn: asyncpg.Connection, outbox: Outbox, local_id: str, repo_type: str, repo_id: str) -> bool:
    """The copy goes, with its event, if it still has that name: a copy renamed in this sync keeps its id
    under the new name, and must not go with the old one."""
    namespace, name = repo_id.split("/", 1)
    if not await store_mirror.delete_named_repo(conn, local_id, repo_type, namespace, name):
        return False
    await outbox.add(conn, RepoDeleted(repo_type=repo_type, repo_id=repo_id))  # type: ignore[arg-type]
    return True
