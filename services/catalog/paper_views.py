"""Papers: `/api/papers/{id}`, `/api/papers/search`, `/api/daily_papers` and `/api/arxiv/{id}/repos`
(huggingface_hub's `paper_info`, `list_papers`, `list_daily_papers`).

Papers are registered by operators (`hubstream papers add`, services/cli/papers.py) or copied by the mirror;
the repos of a paper are those whose card tags name it (`arxiv:ID`), as on the Hub.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.catalog import store_listing, store_papers
from services.catalog.collections import paper_summary
from services.catalog.errors import catalog_error
from services.catalog.listing import Shape, repo_json
from services.runtime.http import iso_utc, json_response, parse_query
from services.runtime.keys import API, POOL, PRINCIPAL

MAX_PAGE = 100
# arXiv ids as the Hub's paper pages take them: 2307.09288, with an optional version.
PAPER_ID = r"[0-9]{4}\.[0-9]{4,5}(?:v[0-9]+)?"
_PAPER_ID = re.compile(PAPER_ID)


class Paper(BaseModel):
    """A paper as `paper_info` reads it (every field is optional to the client)."""

    model_config = ConfigDict(extra="allow")
    id: str
    title: str
    summary: str
    authors: list[dict[str, Any]]
    publishedAt: str
    upvotes: int


class DailyPaper(BaseModel):
    """A daily paper: the paper under `paper`, the day it was submitted as `publishedAt`."""

    model_config = ConfigDict(extra="allow")
    paper: Paper
    title: str
    publishedAt: str


class PaperRepos(BaseModel):
    models: list[dict[str, Any]]
    datasets: list[dict[str, Any]]
    spaces: list[dict[str, Any]]


class SearchParams(BaseModel):
    q: str | None = Field(default=None, max_length=250, description="Text the id, title or summary contains.")
    limit: int = Field(default=MAX_PAGE, ge=1, le=MAX_PAGE)


class DailyParams(BaseModel):
    date: str | None = Field(default=None, description="One day, YYYY-MM-DD.")
    week: str | None = Field(default=None, description="One ISO week, YYYY-Www.")
    month: str | None = Field(default=None, description="One month, YYYY-MM.")
    submitter: str | None = None
    sort: Literal["publishedAt", "trending"] = "publishedAt"
    p: int = Field(default=0, ge=0, le=100_000, description="Page number, from 0.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)


def _submitter(name: str | None) -> dict[str, Any] | None:
    if name is None:
        return None
    return {"_id": name, "user": name, "fullname": name, "avatarUrl": "", "type": "user"}


def paper_json(row: asyncpg.Record) -> dict[str, Any]:
    body = {
        **paper_summary(row),
        "summary": row["summary"],
        "numComments": 0,
        "projectPage": row["project_page"],
        "githubRepo": row["github_repo"],
    }
    if row["submitted_on_daily"] is not None:
        body["submittedOnDailyAt"] = iso_utc(row["submitted_on_daily"])
        body["submittedOnDailyBy"] = _submitter(row["submitted_by"])
    return body


def _paper_id(request: web.Request) -> str:
    paper_id = request.match_info["paper_id"]
    if _PAPER_ID.fullmatch(paper_id) is None:
        raise catalog_error(400, "InvalidParameter", f"{paper_id!r} is not an arXiv id (e.g. 2307.09288)")
    return paper_id


async def paper_info(request: web.Request) -> web.Response:
    paper_id = _paper_id(request)
    row = await store_papers.paper(request.app[POOL], paper_id)
    if row is None:
        raise catalog_error(404, "PaperNotFound", f"Paper not found: {paper_id}.")
    return json_response(paper_json(row))


async def read_paper(request: web.Request) -> web.Response:
    """A paper's page as Markdown: title, authors, links and abstract."""
    paper_id = _paper_id(request)
    row = await store_papers.paper(request.app[POOL], paper_id)
    if row is None:
        raise catalog_error(404, "PaperNotFound", f"Paper not found: {paper_id}.")
    lines = [f"# {row['title']}", "", f"arXiv: {row['id']}"]
    if row["authors"]:
        lines.append("Authors: " + ", ".join(row["authors"]))
    lines += [
        f"{label}: {url}" for label, url in (("Project page", row["project_page"]), ("Code", row["github_repo"])) if url
    ]
    lines += ["", "## Abstract", "", row["summary"], ""]
    return web.Response(text="\n".join(lines), content_type="text/markdown")


async def search_papers(request: web.Request) -> web.Response:
    params = parse_query(request, SearchParams)
    rows = await store_papers.search(request.app[POOL], params.q, params.limit)
    return json_response([paper_json(r) for r in rows])


def _period(params: DailyParams) -> tuple[datetime | None, datetime | None]:
    """[start, end) of the day, week or month asked for (at most one), or (None, None) for all."""
    given = [p for p in (params.date, params.week, params.month) if p is not None]
    if len(given) > 1:
        raise catalog_error(400, "InvalidParameter", "give at most one of date, week and month")
    try:
        if params.date is not None:
            start = date.fromisoformat(params.date)
            end = start + timedelta(days=1)
        elif params.week is not None:
            year, _, week = params.week.partition("-W")
            start = date.fromisocalendar(int(year), int(week), 1)
            end = start + timedelta(weeks=1)
        elif params.month is not None:
            year, _, month = params.month.partition("-")
            start = date(int(year), int(month), 1)
            end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        else:
            return None, None
    except ValueError as exc:
        raise catalog_error(400, "InvalidParameter", f"invalid date, week or month: {exc}") from exc
    day = datetime.min.time()
    return datetime.combine(start, day, UTC), datetime.combine(end, day, UTC)


async def daily_papers(request: web.Request) -> web.Response:
    """Papers submitted to the daily list (of a day, week or month), newest first or by upvotes."""
    params = parse_query(request, DailyParams)
    start, end = _period(params)
    rows = await store_papers.daily(
        request.app[POOL],
        start=start,
        end=end,
        submitter=params.submitter,
        trending=params.sort == "trending",
        offset=params.p * params.limit,
        limit=params.limit,
    )
    return json_response(
        [
            {
                "paper": paper_json(r),
                "title": r["title"],
                "summary": r["summary"],
                "publishedAt": iso_utc(r["submitted_on_daily"]),
                "submittedBy": _submitter(r["submitted_by"]),
                "numComments": 0,
                "isAuthorParticipating": False,
            }
            for r in rows
        ]
    )


async def paper_repos(request: web.Request) -> web.Response:
    """The models, datasets and spaces whose cards tag the paper (`arxiv:ID`) and that the caller may read."""
    paper_id = _paper_id(request)
    principal = request.get(PRINCIPAL)
    pool = request.app[POOL]
    readable = await store_listing.readable_namespaces(pool, principal.user) if principal else ()
    rows = await store_papers.repos_citing(pool, paper_id, readable)
    found: dict[str, list[dict[str, Any]]] = {"models": [], "datasets": [], "spaces": []}
    for row in rows:
        found[f"{row['repo_type']}s"].append(repo_json(row, Shape(full=False)))
    return json_response(found)


def setup_paper_routes(app: web.Application) -> None:
    api = app[API]
    invalid_id = "Not an arXiv id (InvalidParameter)."
    api.get(
        "/api/papers/search",
        search_papers,
        query=SearchParams,
        ok=list[Paper],
        errors={400: "An invalid q or limit (ValidationError)."},
        token="optional",
        summary="Papers whose id, title or summary contains `q`",
    )
    api.get(
        "/api/papers/{paper_id}",
        paper_info,
        ok=Paper,
        errors={400: invalid_id, 404: "No such paper (PaperNotFound)."},
        token="optional",
        summary="A paper",
    )
    api.get(
        "/papers/{paper_id:" + PAPER_ID + "}.md",
        read_paper,
        ok=str,
        media_type="text/markdown",
        errors={404: "No such paper (PaperNotFound)."},
        token="optional",
        summary="A paper's page as Markdown",
    )
    api.get(
        "/api/daily_papers",
        daily_papers,
        query=DailyParams,
        ok=list[DailyPaper],
        errors={400: "An invalid date, week, month, sort, page or limit (InvalidParameter, ValidationError)."},
        token="optional",
        summary="The daily papers: a day's, a week's or a month's, or the latest",
    )
    api.get(
        "/api/arxiv/{paper_id}/repos",
        paper_repos,
        ok=PaperRepos,
        errors={400: invalid_id},
        token="optional",
        summary="The repos whose cards tag an arXiv paper (`arxiv:ID`)",
    )
