"""Discussions and pull requests: numbers shared with `refs/pr/N`, events, and merging a PR into its branch.

Every change runs in the caller's transaction with the repo row locked (the lock commits take), so a
discussion's number never clashes with a PR ref's, and a merge sees the branch it merges into as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from services.catalog import store_community, store_files
from services.catalog.commits import announce_commit, new_commit_sha
from services.catalog.discussion_events import DEFAULT_DESCRIPTION, add_comment, add_event, render
from services.catalog.errors import catalog_error
from services.catalog.revisions import resolve
from services.runtime.http import iso_utc
from services.runtime.outbox import Outbox


def event_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "type": row["kind"],
        "createdAt": iso_utc(row["created_at"]),
        "author": {"name": row["author"]},
        "data": row["data"],
    }


def discussion_json(row: asyncpg.Record, repo: asyncpg.Record) -> dict[str, Any]:
    return {
        "num": row["num"],
        "title": row["title"],
        "status": row["status"],
        "isPullRequest": row["is_pr"],
        "createdAt": iso_utc(row["created_at"]),
        "author": {"name": row["author"]},
        "repo": {"name": f"{repo['namespace']}/{repo['name']}", "type": repo["repo_type"]},
    }


async def create(
    conn: asyncpg.Connection, repo: asyncpg.Record, *, title: str, description: str, author: str, pull_request: bool
) -> int:
    """A discussion, or a draft pull request whose `refs/pr/N` starts at main's head, with its first comment."""
    await store_files.lock_repo(conn, repo["id"])
    num = await store_community.next_number(conn, repo["id"])
    base_sha = None
    if pull_request:
        base_sha = (await resolve(conn, repo["id"], "main")).sha
        await store_files.set_ref(conn, repo["id"], "pr", str(num), base_sha)
    await store_community.insert_discussion(
        conn,
        repo_id=repo["id"],
        num=num,
        title=title,
        author=author,
        is_pr=pull_request,
        status="draft" if pull_request else "open",
        base_branch="main" if pull_request else None,
        base_sha=base_sha,
    )
    await add_comment(conn, repo["id"], num, author, description or DEFAULT_DESCRIPTION)
    return num


async def discussion_for_change(conn: asyncpg.Connection, repo: asyncpg.Record, num: int) -> asyncpg.Record:
    """The discussion, locked. The repo is locked first, in the order commits take (repo, then discussion),
    so a merge and a commit to the same PR ref wait for each other instead of deadlocking."""
    await store_files.lock_repo(conn, repo["id"])
    found = await store_community.discussion(conn, repo["id"], num, for_update=True)
    if found is None:
        raise discussion_not_found(repo, num)
    return found


def discussion_not_found(repo: asyncpg.Record, num: int) -> Exception:
    return catalog_error(
        404, "DiscussionNotFound", f"Discussion #{num} not found in {repo['namespace']}/{repo['name']}"
    )


def may_moderate(found: asyncpg.Record, user: str, can_write: bool) -> None:
    """Renaming and opening or closing: the discussion's author, or someone who may write to the repo."""
    if found["author"] != user and not can_write:
        raise catalog_error(403, "Forbidden", f"only the author of #{found['num']} or the repo's writers may do this")


async def rename(conn: asyncpg.Connection, found: asyncpg.Record, title: str, author: str) -> asyncpg.Record:
    await store_community.set_title(conn, found["repo_id"], found["num"], title)
    data = {"from": found["title"], "to": title}
    return await add_event(conn, found["repo_id"], found["num"], "title-change", author, data)


async def change_status(
    conn: asyncpg.Connection, found: asyncpg.Record, status: str, author: str, comment: str | None
) -> asyncpg.Record:
    if found["status"] == "merged":
        raise catalog_error(400, "InvalidInput", f"#{found['num']} is merged: its status cannot change any more")
    if comment:
        await add_comment(conn, found["repo_id"], found["num"], author, comment)
    await store_community.set_status(conn, found["repo_id"], found["num"], status)
    return await add_event(conn, found["repo_id"], found["num"], "status-change", author, {"status": status})


async def edit_comment(
    conn: asyncpg.Connection, found: asyncpg.Record, comment_id: str, content: str, user: str
) -> asyncpg.Record:
    event = await _comment(conn, found, comment_id)
    if event["author"] != user:
        raise catalog_error(403, "Forbidden", "only a comment's author may edit it")
    data = dict(event["data"])
    if data.get("hidden"):
        raise catalog_error(400, "InvalidInput", "a hidden comment cannot be edited")
    when = iso_utc(await conn.fetchval("SELECT clock_timestamp()"))
    history = [data["latest"], *data.get("history", [])]
    data.update(
        edited=True,
        numEdits=int(data.get("numEdits", 0)) + 1,
        latest={"raw": content, "html": render(content), "updatedAt": when, "author": {"name": user}},
        history=history,
    )
    return await store_community.set_event_data(conn, event["id"], data)


async def hide_comment(conn: asyncpg.Connection, found: asyncpg.Record, comment_id: str, user: str) -> asyncpg.Record:
    """Hiding is for good, as on the Hub: the text and its edit history are dropped, not just flagged."""
    event = await _comment(conn, found, comment_id)
    data = dict(event["data"])
    when = iso_utc(await conn.fetchval("SELECT clock_timestamp()"))
    data.update(
        hidden=True,
        hiddenBy=user,
        latest={"raw": "", "html": "", "updatedAt": when, "author": data["latest"].get("author", {"name": user})},
        history=[],
    )
    return await store_community.set_event_data(conn, event["id"], data)


async def _comment(conn: asyncpg.Connection, found: asyncpg.Record, comment_id: str) -> asyncpg.Record:
    event = await store_community.comment_for_update(conn, found["repo_id"], found["num"], comment_id.lower())
    if event is None:
        raise catalog_error(404, "NotFound", f"no comment {comment_id!r} in #{found['num']}")
    return event


# Merging


@dataclass(frozen=True)
class MergePlan:
    target: str  # the branch's head now
    head: str  # the PR's head
    changed: dict[str, asyncpg.Record | None]  # what the PR changes since its base: path -> new entry, or None
    conflicts: list[str]


async def plan_merge(conn: asyncpg.Connection, found: asyncpg.Record) -> MergePlan:
    """Three-way, by file: a path both the PR and the branch changed since the PR's base, differently, conflicts."""
    repo_id = found["repo_id"]
    head = await store_files.ref_target(conn, repo_id, "pr", str(found["num"]))
    target = await store_files.ref_target(conn, repo_id, "branch", found["base_branch"] or "main")
    if head is None or target is None:
        raise catalog_error(
            400, "InvalidInput", f"#{found['num']}: its refs/pr/{found['num']} or its target branch no longer exists"
        )
    base = (
        {r["path"]: r for r in await store_files.files(conn, repo_id, found["base_sha"])} if found["base_sha"] else {}
    )
    ours = {r["path"]: r for r in await store_files.files(conn, repo_id, head)}
    theirs = (
        {r["path"]: r for r in await store_files.files(conn, repo_id, target)} if target != found["base_sha"] else base
    )
    changed = {p: ours.get(p) for p in base.keys() | ours.keys() if _key(base.get(p)) != _key(ours.get(p))}
    conflicts = sorted(
        p for p in changed if _key(theirs.get(p)) != _key(base.get(p)) and _key(theirs.get(p)) != _key(ours.get(p))
    )
    return MergePlan(target, head, changed, conflicts)


def _key(row: asyncpg.Record | None) -> tuple[Any, ...] | None:
    return None if row is None else (row["git_oid"], row["sha256"], row["lfs"], row["size"])


async def merge(
    conn: asyncpg.Connection,
    outbox: Outbox,
    repo: asyncpg.Record,
    found: asyncpg.Record,
    *,
    author: str,
    comment: str | None,
) -> tuple[str, frozenset[str]]:
    """Merge the PR's changes into its branch as one commit; its id, and the paths it changed on the branch.

    Nothing is written when the merge cannot happen (not a PR, not open, conflicts): the caller's transaction
    rolls back whatever this raised from.
    """
    num = found["num"]
    if not found["is_pr"]:
        raise catalog_error(400, "InvalidInput", f"#{num} is a discussion, not a pull request")
    if found["status"] not in ("open", "draft"):
        raise catalog_error(400, "InvalidInput", f"#{num} is {found['status']}: only an open pull request merges")
    await store_files.lock_repo(conn, repo["id"])
    plan = await plan_merge(conn, found)
    if plan.conflicts:
        raise catalog_error(
            409,
            "MergeConflict",
            f"#{num} cannot be merged: these files changed on {found['base_branch']} too: "
            + ", ".join(plan.conflicts[:20]),
            filesWithConflicts=plan.conflicts,
        )
    if not plan.changed:
        raise catalog_error(400, "InvalidInput", f"#{num} has no changes to merge")
    branch = found["base_branch"] or "main"
    title = f"{found['title']} (#{num})"
    sha = new_commit_sha(repo["id"], plan.target, title)
    await store_files.insert_commit(
        conn, repo_id=repo["id"], sha=sha, parent_sha=plan.target, title=title, message="", author=author
    )
    paths = sorted(plan.changed)
    await store_files.copy_files(conn, repo["id"], plan.target, sha, paths)
    rows = [
        (repo["id"], sha, p, e["size"], e["sha256"], e["git_oid"], e["lfs"], sha)
        for p in paths
        if (e := plan.changed[p]) is not None
    ]
    await store_files.insert_files(conn, rows)
    await store_files.set_ref(conn, repo["id"], "branch", branch, sha)
    if branch == "main":
        await store_files.set_head(conn, repo["id"], sha)
    if comment:
        await add_comment(conn, repo["id"], num, author, comment)
    await store_community.set_merged(conn, repo["id"], num, sha)
    await add_event(conn, repo["id"], num, "status-change", author, {"status": "merged"})
    await announce_commit(conn, outbox, repo, f"refs/heads/{branch}", plan.target, sha, paths)
    return sha, frozenset(paths) if branch == "main" else frozenset()
