"""Discussion events (comments, commits, status and title changes) as the Hub's client reads them.

Kept apart from discussions.py so that the commit path (commits.py) can note a commit on its pull request
without importing the merge code, which builds on commits.py.
"""

from __future__ import annotations

import html
import secrets
from typing import Any

import asyncpg

from services.catalog import store_community
from services.runtime.http import iso_utc

DEFAULT_DESCRIPTION = "No description provided."


def new_event_id() -> str:
    return secrets.token_hex(12)  # the Hub's ids are 24 hex digits; the client lower-cases them in URLs


def render(raw: str) -> str:
    """The `html` of a comment: its text escaped, paragraph by paragraph (no Markdown rendering here)."""
    return "".join(f"<p>{html.escape(p)}</p>" for p in raw.split("\n\n") if p) or "<p></p>"


def comment_data(raw: str, author: str, when: str) -> dict[str, Any]:
    return {
        "edited": False,
        "hidden": False,
        "latest": {"raw": raw, "html": render(raw), "updatedAt": when, "author": {"name": author}},
        "numEdits": 0,
        "history": [],
    }


async def add_event(
    conn: asyncpg.Connection, repo_id: str, num: int, kind: str, author: str, data: dict[str, Any]
) -> asyncpg.Record:
    return await store_community.insert_event(
        conn, event_id=new_event_id(), repo_id=repo_id, num=num, kind=kind, author=author, data=data
    )


async def add_comment(conn: asyncpg.Connection, repo_id: str, num: int, author: str, raw: str) -> asyncpg.Record:
    when = iso_utc(await conn.fetchval("SELECT clock_timestamp()"))
    return await add_event(conn, repo_id, num, "comment", author, comment_data(raw, author, when or ""))


async def record_pr_commit(
    conn: asyncpg.Connection,
    repo_id: str,
    num: int,
    *,
    sha: str,
    parent: str | None,
    title: str,
    description: str,
    author: str,
    opened: bool,
) -> None:
    """A commit to `refs/pr/N` (called by commits.apply_commit, repo locked): a `commit` event on the PR.

    With `opened` (a `create_pr=True` commit) it first opens the PR, titled by the commit and described by its
    description, based on `parent`.
    """
    if opened:
        await store_community.insert_discussion(
            conn,
            repo_id=repo_id,
            num=num,
            title=title,
            author=author,
            is_pr=True,
            status="open",
            base_branch="main",
            base_sha=parent,
        )
        await add_comment(conn, repo_id, num, author, description.strip() or DEFAULT_DESCRIPTION)
    found = await store_community.discussion(conn, repo_id, num, for_update=True)
    if found is None or not found["is_pr"]:
        return  # a refs/pr/N made before discussions existed: the commit stands, with no PR to note it on
    if found["status"] == "draft":
        await store_community.set_status(conn, repo_id, num, "open")
    await add_event(conn, repo_id, num, "commit", author, {"subject": title, "oid": sha})
