"""Discussions and pull requests (`/api/{type}s/{id}/discussions...`), as `HfApi`'s community methods call them."""

from __future__ import annotations

from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.catalog import cards, discussions, store_community, store_files
from services.catalog.access import readable_repo, require_poster
from services.catalog.errors import catalog_error
from services.catalog.keys import BLOBS
from services.catalog.repos import can_write_repo
from services.runtime.errors import ApiError
from services.runtime.http import json_response, parse_body, parse_query, read_json
from services.runtime.keys import API, OUTBOX, POOL

PAGE = 50  # the Hub's page size for discussions (`p` counts pages from 0)
MAX_TITLE = 200
README = "README.md"


class DiscussionEvent(BaseModel):
    id: str = Field(description="24 hex digits.")
    type: Literal["comment", "status-change", "commit", "title-change"]
    createdAt: str
    author: dict[str, str]
    data: dict[str, Any] = Field(
        description="comment: edited, hidden, latest {raw, html, updatedAt, author}, numEdits, history; "
        "status-change: status; commit: subject, oid; title-change: from, to."
    )


class Discussion(BaseModel):
    num: int
    title: str
    status: Literal["open", "closed", "merged", "draft"]
    isPullRequest: bool
    createdAt: str
    author: dict[str, str]
    repo: dict[str, str]


class DiscussionPage(BaseModel):
    discussions: list[Discussion]
    count: int = Field(description="How many match in all; the client asks for page p+1 while start + len < count.")
    start: int


class DiscussionChanges(BaseModel):
    base: str = Field(description="The full ref a pull request merges into.")
    mergeCommitId: str | None = None


class DiscussionDetails(Discussion):
    events: list[DiscussionEvent]
    changes: DiscussionChanges | None = Field(default=None, description="Pull requests only.")
    filesWithConflicts: list[str] | None = Field(default=None, description="Pull requests only.")


class CreatedDiscussion(BaseModel):
    num: int
    pullRequest: bool
    url: str


class NewMessage(BaseModel):
    newMessage: DiscussionEvent


class NewTitle(BaseModel):
    newTitle: DiscussionEvent


class NewStatus(BaseModel):
    newStatus: DiscussionEvent


class UpdatedComment(BaseModel):
    updatedComment: DiscussionEvent


class MergedDiscussion(BaseModel):
    mergeCommitId: str


class DiscussionListParams(BaseModel):
    p: int = Field(default=0, ge=0, le=1_000_000, description="The page, from 0.")
    type: Literal["all", "discussion", "pull_request"] = "all"
    status: Literal["all", "open", "closed"] = "all"
    author: str | None = None


class CreateDiscussionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    description: str | None = None
    pullRequest: bool = False


class DiscussionCommentBody(BaseModel):
    comment: str = Field(min_length=1)


class DiscussionTitleBody(BaseModel):
    title: str = Field(min_length=1, max_length=MAX_TITLE)


class DiscussionStatusBody(BaseModel):
    status: Literal["open", "closed"]
    comment: str | None = None


class EditCommentBody(BaseModel):
    content: str = Field(min_length=1)


class MergeDiscussionBody(BaseModel):
    comment: str | None = None


def _num(request: web.Request) -> int:
    return int(request.match_info["num"])  # the route takes 1-9 digits only


def _title(text: str) -> str:
    title = text.strip()
    if not title:
        raise catalog_error(400, "InvalidInput", "a title cannot be empty")
    return title


async def list_view(request: web.Request) -> web.Response:
    repo = await readable_repo(request)
    q = parse_query(request, DiscussionListParams)
    is_pr = {"all": None, "discussion": False, "pull_request": True}[q.type]
    status = None if q.status == "all" else q.status
    rows, total = await store_community.list_discussions(
        request.app[POOL], repo["id"], is_pr=is_pr, status=status, author=q.author, offset=q.p * PAGE, limit=PAGE
    )
    items = [discussions.discussion_json(r, repo) for r in rows]
    return json_response({"discussions": items, "count": total, "start": q.p * PAGE})


async def details_view(request: web.Request) -> web.Response:
    repo = await readable_repo(request)
    pool = request.app[POOL]
    found = await store_community.discussion(pool, repo["id"], _num(request))
    if found is None:
        raise discussions.discussion_not_found(repo, _num(request))
    answer = discussions.discussion_json(found, repo)
    answer["events"] = [discussions.event_json(e) for e in await store_community.events(pool, repo["id"], found["num"])]
    if found["is_pr"]:
        answer["changes"] = {"base": f"refs/heads/{found['base_branch']}", "mergeCommitId": found["merge_commit"]}
        conflicts: list[str] = []
        if found["status"] in ("open", "draft"):
            async with pool.acquire() as conn:
                try:
                    conflicts = (await discussions.plan_merge(conn, found)).conflicts
                except ApiError as exc:  # a PR whose refs went away has nothing to conflict with
                    if exc.status != 400:
                        raise
        answer["filesWithConflicts"] = conflicts
    return json_response(answer)


async def create_view(request: web.Request) -> web.Response:
    principal = require_poster(request)
    repo = await readable_repo(request)
    body = await parse_body(request, CreateDiscussionBody, status=400)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        num = await discussions.create(
            conn,
            repo,
            title=_title(body.title),
            description=(body.description or "").strip(),
            author=principal.user,
            pull_request=body.pullRequest,
        )
    return json_response({"num": num, "pullRequest": body.pullRequest, "url": f"{request.url}/{num}"})


async def _changing(request: web.Request, conn: asyncpg.Connection) -> tuple[asyncpg.Record, asyncpg.Record]:
    repo = await readable_repo(request)
    return repo, await discussions.discussion_for_change(conn, repo, _num(request))


async def comment_view(request: web.Request) -> web.Response:
    principal = require_poster(request)
    body = await parse_body(request, DiscussionCommentBody, status=400)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        _, found = await _changing(request, conn)
        event = await discussions.add_comment(conn, found["repo_id"], found["num"], principal.user, body.comment)
    return json_response({"newMessage": discussions.event_json(event)})


async def title_view(request: web.Request) -> web.Response:
    principal = require_poster(request)
    body = await parse_body(request, DiscussionTitleBody, status=400)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        repo, found = await _changing(request, conn)
        discussions.may_moderate(found, principal.user, await can_write_repo(conn, principal, repo))
        event = await discussions.rename(conn, found, _title(body.title), principal.user)
    return json_response({"newTitle": discussions.event_json(event)})


async def status_view(request: web.Request) -> web.Response:
    principal = require_poster(request)
    body = await parse_body(request, DiscussionStatusBody, status=400)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        repo, found = await _changing(request, conn)
        discussions.may_moderate(found, principal.user, await can_write_repo(conn, principal, repo))
        event = await discussions.change_status(conn, found, body.status, principal.user, body.comment)
    return json_response({"newStatus": discussions.event_json(event)})


async def edit_view(request: web.Request) -> web.Response:
    principal = require_poster(request)
    body = await parse_body(request, EditCommentBody, status=400)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        _, found = await _changing(request, conn)
        event = await discussions.edit_comment(
            conn, found, request.match_info["comment_id"], body.content, principal.user
        )
    return json_response({"updatedComment": discussions.event_json(event)})


async def hide_view(request: web.Request) -> web.Response:
    principal = require_poster(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        repo, found = await _changing(request, conn)
        if not await can_write_repo(conn, principal, repo):
            raise catalog_error(403, "Forbidden", "only the repo's writers may hide comments")
        event = await discussions.hide_comment(conn, found, request.match_info["comment_id"], principal.user)
    return json_response({"updatedComment": discussions.event_json(event)})


async def merge_view(request: web.Request) -> web.Response:
    """Merge a pull request; the client sends `{"comment": ...}` or no body at all."""
    principal = require_poster(request)
    comment = None
    if await request.read():
        sent = await read_json(request)
        if not isinstance(sent, dict) or not isinstance(sent.get("comment", ""), str | None):
            raise catalog_error(400, "InvalidInput", 'the body is {"comment": "..."} or nothing')
        comment = sent.get("comment")
    async with request.app[POOL].acquire() as conn, conn.transaction():
        repo, found = await _changing(request, conn)
        if not await can_write_repo(conn, principal, repo):
            raise catalog_error(
                403, "Forbidden", f"you ({principal.user}) cannot write to {repo['namespace']}/{repo['name']}"
            )
        sha, on_main = await discussions.merge(
            conn, request.app[OUTBOX], repo, found, author=principal.user, comment=comment
        )
        if README in on_main:  # the card follows main's README, in the merge's own transaction
            readme = await store_files.file(conn, repo["id"], sha, README)
            await cards.refresh_card_from_blob(conn, request.app[BLOBS], repo["id"], readme)
    return json_response({"mergeCommitId": sha})


def setup_discussion_routes(app: web.Application) -> None:
    api = app[API]
    base = "/api/{type:models|datasets|spaces}/{namespace}/{name}/discussions"
    one = base + r"/{num:[1-9][0-9]{0,8}}"
    not_found = "No such repo (RepoNotFound, also a private one the caller may not see) or discussion."
    bad = "An invalid body or parameter (InvalidInput, ValidationError)."
    read_only = "A read-only token, which writes nothing (Forbidden)."
    api.get(
        base,
        list_view,
        query=DiscussionListParams,
        ok=DiscussionPage,
        errors={400: bad, 404: not_found},
        summary="A repo's discussions and pull requests, newest first (50 a page; filters: type, status, author)",
    )
    api.post(
        base,
        create_view,
        body=CreateDiscussionBody,
        ok=CreatedDiscussion,
        errors={400: bad, 403: read_only, 404: not_found},
        token="required",
        summary="Open a discussion, or a draft pull request (its refs/pr/N starts at main's head)",
    )
    api.get(
        one,
        details_view,
        ok=DiscussionDetails,
        errors={400: bad, 404: not_found},
        summary="A discussion or pull request with its events (a PR adds its target and conflicting files)",
    )
    moderated = {
        400: bad,
        403: "A read-only token, or neither the discussion's author nor a writer of the repo (Forbidden).",
        404: not_found,
    }
    for path, view, body, ok, errors, summary in (
        (
            "/comment",
            comment_view,
            DiscussionCommentBody,
            NewMessage,
            {400: bad, 403: read_only, 404: not_found},
            "Comment",
        ),
        ("/title", title_view, DiscussionTitleBody, NewTitle, moderated, "Rename"),
        (
            "/status",
            status_view,
            DiscussionStatusBody,
            NewStatus,
            moderated,
            "Open or close (with an optional comment)",
        ),
    ):
        api.post(one + path, view, body=body, ok=ok, errors=errors, token="required", summary=summary)
    comment = one + "/comment/{comment_id:[0-9a-fA-F]{24}}"
    api.post(
        comment + "/edit",
        edit_view,
        body=EditCommentBody,
        ok=UpdatedComment,
        errors={**moderated, 403: "A read-only token, or not the comment's author (Forbidden)."},
        token="required",
        summary="Edit a comment (its earlier text stays in `history`)",
    )
    api.post(
        comment + "/hide",
        hide_view,
        ok=UpdatedComment,
        errors={**moderated, 403: "A read-only token, or not a writer of the repo (Forbidden)."},
        token="required",
        summary="Hide a comment, for good",
    )
    api.post(
        one + "/merge",
        merge_view,
        body=MergeDiscussionBody,
        ok=MergedDiscussion,
        errors={
            400: "Not an open pull request, or one without changes (InvalidInput).",
            403: "The caller may not write to the repo (Forbidden).",
            404: not_found,
            409: "A file the PR changes was changed on its branch too (MergeConflict; `filesWithConflicts`).",
        },
        token="required",
        summary="Merge a pull request's changes into its branch as one commit",
    )
