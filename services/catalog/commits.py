"""Commits and refs: applying a commit to a branch or PR, creating and deleting branches and tags.

Each change runs in the caller's transaction with the repo row locked, so two
commits to one branch apply one after the other (or the second gets a 412 when
it named the parent it expected), and writes its `RepoUpdated` event to the
outbox in that same transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from contracts.catalog import RepoUpdated, UpdatedRef
from services.catalog import store_community, store_files
from services.catalog.commit_payload import AddFile, AddLfsFile, CommitPayload, DeleteFile, DeleteFolder
from services.catalog.discussion_events import record_pr_commit
from services.catalog.errors import catalog_error
from services.catalog.gitfiles import DEFAULT_GITATTRIBUTES, git_blob_oid, lfs_pointer
from services.catalog.revisions import FULL_REF, Revision, ref_name_problem, resolve, revision_not_found, split_ref
from services.runtime.outbox import Outbox

GITATTRIBUTES_SHA256 = hashlib.sha256(DEFAULT_GITATTRIBUTES).hexdigest()
# An event must fit in one Kafka message (1 MB by default): past this many paths, the event says it is partial.
MAX_EVENT_PATHS = 5000
_COMMIT_ID = re.compile(r"[0-9a-f]{7,40}")  # a full or short commit id, as revisions are resolved
CONFLICT_MESSAGE = "The branch was updated since you opened this page. Please refresh and try again."


@dataclass(frozen=True)
class Entry:
    size: int
    sha256: str
    git_oid: str
    lfs: bool


@dataclass(frozen=True)
class CommitResult:
    sha: str
    pr_number: int | None
    changed_on_main: frozenset[str] = frozenset()
    """The paths this commit changed on main (empty for other branches and PRs): README.md refreshes the card."""


def new_commit_sha(repo_id: str, parent: str | None, title: str) -> str:
    """40 lowercase hex, unique per commit (a nonce: two equal commits on one parent stay two commits)."""
    seed = f"{repo_id}\n{parent}\n{title}\n{time.time_ns()}\n{secrets.token_hex(8)}"
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()


def gitattributes_row(repo_id: str, sha: str) -> tuple[object, ...]:
    """The commit_files row of the Hub's default `.gitattributes`, added by commit `sha`."""
    size, oid = len(DEFAULT_GITATTRIBUTES), git_blob_oid(DEFAULT_GITATTRIBUTES)
    return (repo_id, sha, ".gitattributes", size, GITATTRIBUTES_SHA256, oid, False, sha)


async def initial_commit(conn: asyncpg.Connection, repo_id: str, author: str) -> str:
    """A new repo's first commit on main: the default `.gitattributes`, as on the Hub."""
    sha = new_commit_sha(repo_id, None, "initial commit")
    await store_files.insert_commit(
        conn, repo_id=repo_id, sha=sha, parent_sha=None, title="initial commit", message="", author=author
    )
    await store_files.insert_files(conn, [gitattributes_row(repo_id, sha)])
    await store_files.set_ref(conn, repo_id, "branch", "main", sha)
    await store_files.set_head(conn, repo_id, sha)
    return sha


async def apply_commit(
    conn: asyncpg.Connection,
    outbox: Outbox,
    repo: asyncpg.Record,
    rev: str,
    payload: CommitPayload,
    *,
    author: str,
    create_pr: bool,
    reader: bool = False,
) -> CommitResult:
    """Apply `payload` on top of `rev` (a branch or PR ref; with `create_pr`, any revision to branch from).

    A `reader` (the author may read the repo, not write to it) commits only to a new PR, or to an open PR of
    their own, checked here under the repo's lock; their LFS objects are the ones they uploaded themselves."""
    repo_id = repo["id"]
    await store_files.lock_repo(conn, repo_id)
    if create_pr:
        base = await resolve(conn, repo_id, rev)
        parent: str | None = base.sha
        kind, name = "pr", str(await store_community.next_number(conn, repo_id))  # shared with discussions
    else:
        if reader and not await own_open_pr(conn, repo_id, rev, author):
            raise reader_refused(repo, author)
        kind, name, parent = await _writable_head(conn, repo_id, rev)
    if payload.parent_commit is not None and payload.parent_commit != parent:
        raise catalog_error(412, "CommitConflict", CONFLICT_MESSAGE)

    tree = {r["path"]: _entry(r) for r in await store_files.files(conn, repo_id, parent)} if parent else {}
    changed = await _apply_operations(conn, repo_id, tree, payload, author if reader else None)

    sha = new_commit_sha(repo_id, parent, payload.summary)
    await store_files.insert_commit(
        conn,
        repo_id=repo_id,
        sha=sha,
        parent_sha=parent,
        title=payload.summary,
        message=payload.description,
        author=author,
    )
    if parent:
        await store_files.copy_files(conn, repo_id, parent, sha, sorted(changed))
    rows = [
        (repo_id, sha, path, e.size, e.sha256, e.git_oid, e.lfs, sha)
        for path in sorted(changed)
        if (e := tree.get(path)) is not None
    ]
    await store_files.insert_files(conn, rows)
    await store_files.set_ref(conn, repo_id, kind, name, sha)
    if (kind, name) == ("branch", "main"):
        await store_files.set_head(conn, repo_id, sha)
    if kind == "pr" and name.isdigit():  # the pull request notes the commit (and a create_pr commit opens it)
        await record_pr_commit(
            conn,
            repo_id,
            int(name),
            sha=sha,
            parent=parent,
            title=payload.summary,
            description=payload.description,
            author=author,
            opened=create_pr,
        )
    await announce_commit(conn, outbox, repo, FULL_REF[kind] + name, None if create_pr else parent, sha, changed)
    on_main = (kind, name) == ("branch", "main")
    return CommitResult(sha, int(name) if kind == "pr" else None, frozenset(changed) if on_main else frozenset())


async def squash_branch(
    conn: asyncpg.Connection, outbox: Outbox, repo: asyncpg.Record, branch: str, message: str, *, author: str
) -> str:
    """Replace a branch's history by one commit holding its current files (`super_squash_history`)."""
    repo_id = repo["id"]
    await store_files.lock_repo(conn, repo_id)
    kind, name, head = await _writable_head(conn, repo_id, branch)
    sha = new_commit_sha(repo_id, None, message)
    await store_files.insert_commit(
        conn, repo_id=repo_id, sha=sha, parent_sha=None, title=message, message="", author=author
    )
    await store_files.copy_files(conn, repo_id, head, sha, [], last_commit=sha)
    await store_files.set_ref(conn, repo_id, kind, name, sha)
    if (kind, name) == ("branch", "main"):
        await store_files.set_head(conn, repo_id, sha)
    await announce_commit(conn, outbox, repo, FULL_REF[kind] + name, head, sha)
    return sha


async def own_open_pr(conn: asyncpg.Connection | asyncpg.Pool, repo_id: str, rev: str, user: str) -> bool:
    """Whether `rev` is `refs/pr/N` of a pull request `user` opened that is still open (or a draft): the only
    refs a reader of the repo may push to, as on the Hub."""
    kind, name = split_ref(rev)
    if kind != "pr" or not (name.isascii() and name.isdigit() and len(name) <= 9):  # PR numbers fit an int4
        return False
    found = await store_community.discussion(conn, repo_id, int(name))
    return found is not None and found["is_pr"] and found["author"] == user and found["status"] in ("open", "draft")


def reader_refused(repo: asyncpg.Record, user: str) -> Exception:
    return catalog_error(
        403,
        "Forbidden",
        f"you ({user}) cannot write to {repo['namespace']}/{repo['name']}: open a pull request instead "
        "(create_pr=True), or push to an open pull request of your own (revision refs/pr/N)",
    )


async def _writable_head(conn: asyncpg.Connection, repo_id: str, rev: str) -> tuple[str, str, str | None]:
    """The branch or PR a commit goes to, and its head. Tags and commit ids cannot be committed to."""
    kind, name = split_ref(rev)
    kind = kind or "branch"
    if kind not in ("branch", "pr"):
        raise catalog_error(400, "InvalidRef", f"cannot commit to {rev!r}: commits go to a branch or a PR ref")
    head = await store_files.ref_target(conn, repo_id, kind, name)
    if head is None and kind == "branch":
        # Not a branch: a tag or a commit by that name is still no place to commit (400, as the Hub says),
        # where "not found" would have the client look for a revision that exists.
        what = None
        if await store_files.ref_target(conn, repo_id, "tag", name) is not None:
            what = f"tag {name!r}"
        elif _COMMIT_ID.fullmatch(name) and await store_files.commits_with_prefix(conn, repo_id, name):
            what = f"commit {name}"
        if what is not None:
            raise catalog_error(400, "InvalidRef", f"cannot commit to {what}: commits go to a branch or a PR ref")
    if head is None:
        raise revision_not_found(rev)
    return kind, name, head


def _entry(row: asyncpg.Record) -> Entry:
    return Entry(row["size"], row["sha256"], row["git_oid"], row["lfs"])


async def _apply_operations(
    conn: asyncpg.Connection, repo_id: str, tree: dict[str, Entry], payload: CommitPayload, reader: str | None
) -> set[str]:
    """Apply the operations in order to `tree` (path -> entry); the set of paths whose entry changed.

    LFS objects: those uploaded to the repo by its writers, or, for a `reader`'s PR commit, by that reader."""
    before = dict(tree)
    lfs_wanted = [op.sha256 for op in payload.operations if isinstance(op, AddLfsFile)]
    uploaded: dict[str, int] = {}
    if lfs_wanted and reader is None:
        uploaded = await store_files.repo_objects(conn, repo_id, lfs_wanted)
    elif lfs_wanted and reader is not None:
        uploaded = await store_files.reader_objects(conn, repo_id, reader, lfs_wanted)
    # LFS objects already in this revision may be named again (copies) without a new upload.
    held = {e.sha256: e.size for e in before.values() if e.lfs}
    for op in payload.operations:
        if isinstance(op, AddFile):
            tree[op.path] = Entry(op.size, op.sha256, op.git_oid, False)
        elif isinstance(op, AddLfsFile):
            size = uploaded.get(op.sha256, held.get(op.sha256))
            if size is None:
                raise catalog_error(
                    422,
                    "LfsObjectMissing",
                    f"the LFS object {op.sha256} of {op.path!r} was never uploaded to this repo: "
                    "upload it through the LFS batch API first",
                )
            if op.size is not None and op.size != size:
                raise catalog_error(
                    422,
                    "ChecksumMismatch",
                    f"{op.path!r}: the LFS object {op.sha256} has {size} bytes, the commit says {op.size}",
                )
            tree[op.path] = Entry(size, op.sha256, git_blob_oid(lfs_pointer(op.sha256, size)), True)
        elif isinstance(op, DeleteFile):
            if tree.pop(op.path, None) is None:
                raise catalog_error(404, "EntryNotFound", f"A file with this name doesn't exist: {op.path}")
        elif isinstance(op, DeleteFolder):
            inside = [p for p in tree if p.startswith(op.path + "/")]
            if not inside:
                raise catalog_error(404, "EntryNotFound", f"A folder with this name doesn't exist: {op.path}/")
            for p in inside:
                del tree[p]
    _check_file_folder_clashes(tree)
    return {p for p in before.keys() | tree.keys() if before.get(p) != tree.get(p)}


def _check_file_folder_clashes(tree: dict[str, Entry]) -> None:
    folders = {path.rsplit("/", i)[0] for path in tree for i in range(1, path.count("/") + 1)}
    if clash := sorted(folders & tree.keys()):
        raise catalog_error(400, "InvalidPath", f"{clash[0]!r} cannot be both a file and a folder")


async def create_ref(
    conn: asyncpg.Connection,
    outbox: Outbox,
    repo: asyncpg.Record,
    kind: str,
    name: str,
    starting_point: str,
    message: str | None = None,
) -> Revision:
    """A new branch or tag at `starting_point`; 409 if it exists."""
    if kind == "branch" and (split_ref(name)[0] is not None or name.startswith("refs/")):
        raise catalog_error(400, "InvalidRef", "Invalid reference for a branch")
    if problem := ref_name_problem(name):
        raise catalog_error(400, "InvalidRef", problem)
    await store_files.lock_repo(conn, repo["id"])
    start = await resolve(conn, repo["id"], starting_point)
    if not await store_files.insert_ref(conn, repo["id"], kind, name, start.sha, message):
        raise catalog_error(409, "RefExists", f"Reference {FULL_REF[kind]}{name} already exists")
    await announce_commit(conn, outbox, repo, f"{FULL_REF[kind]}{name}", None, start.sha)
    return Revision(start.sha, kind, name)


async def delete_ref(conn: asyncpg.Connection, outbox: Outbox, repo: asyncpg.Record, kind: str, name: str) -> None:
    if (kind, name) == ("branch", "main"):
        raise catalog_error(403, "Forbidden", "Cannot delete refs/heads/main")
    await store_files.lock_repo(conn, repo["id"])
    old = await store_files.delete_ref(conn, repo["id"], kind, name)
    if old is None:
        raise revision_not_found(name)
    await announce_commit(conn, outbox, repo, f"{FULL_REF[kind]}{name}", old, None)


async def announce_commit(
    conn: asyncpg.Connection,
    outbox: Outbox,
    repo: asyncpg.Record,
    ref: str,
    old: str | None,
    new: str | None,
    changed: Iterable[str] = (),
) -> None:
    """`RepoUpdated` for a change of `ref`: a commit (with the paths it changed), a new or deleted branch or tag.

    Call with the repo locked: main's head is read under the lock."""
    paths = sorted(changed)
    await outbox.add(
        conn,
        RepoUpdated(
            repo_type=repo["repo_type"],
            repo_id=f"{repo['namespace']}/{repo['name']}",
            head_sha=await store_files.ref_target(conn, repo["id"], "branch", "main"),
            updated_refs=[UpdatedRef(ref=ref, old_sha=old, new_sha=new)],
            changed_paths=paths[:MAX_EVENT_PATHS],
            changed_paths_truncated=len(paths) > MAX_EVENT_PATHS,
        ),
    )
