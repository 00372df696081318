"""`hubstream papers`: register the papers the catalog serves (`/api/papers/{id}`, `/api/daily_papers`)."""

from __future__ import annotations

import argparse
import re
import sys

import asyncpg

from services.cli.common import Commands, in_catalog_transaction
from services.runtime.outbox import Outbox


def register(commands: Commands) -> None:
    papers = commands.group("papers", "register the papers the catalog serves")
    add = papers.action("add", "add a paper, or replace the one of that id", _add)
    add.add_argument("id", help="its arXiv id, e.g. 2307.09288")
    add.add_argument("--title", required=True)
    add.add_argument("--summary", default="", help="the abstract")
    add.add_argument("--author", action="append", default=[], help="an author's name (repeatable, in order)")
    add.add_argument("--published", required=True, help="publication day, YYYY-MM-DD")
    add.add_argument("--daily", help="the day it joins the daily papers, YYYY-MM-DD (default: not a daily paper)")
    add.add_argument("--submitted-by", help="the user who submitted it to the daily papers")
    add.add_argument("--project-page")
    add.add_argument("--github-repo")
    remove = papers.action("remove", "remove a paper", _remove)
    remove.add_argument("id")


def _fail(message: str) -> int:
    print(f"hubstream papers: {message}", file=sys.stderr)
    return 2


@in_catalog_transaction
async def _add(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import store_papers
    from services.catalog.paper_views import PAPER_ID

    if re.fullmatch(PAPER_ID, args.id) is None:
        return _fail(f"{args.id!r} is not an arXiv id (e.g. 2307.09288)")
    if not args.title.strip():
        return _fail("the title may not be empty")
    try:
        published = store_papers.parse_day(args.published)
        daily = store_papers.parse_day(args.daily) if args.daily else None
    except ValueError as exc:
        return _fail(f"invalid date ({exc}): use YYYY-MM-DD")
    created = await store_papers.upsert_paper(
        conn,
        paper_id=args.id,
        title=args.title,
        summary=args.summary,
        authors=args.author,
        published_at=published,
        submitted_on_daily=daily,
        submitted_by=args.submitted_by,
        project_page=args.project_page,
        github_repo=args.github_repo,
    )
    daily_note = f", a daily paper of {args.daily}" if daily else ""
    print(f"paper {args.id} {'added' if created else 'replaced'}: {args.title}{daily_note}")
    return 0


@in_catalog_transaction
async def _remove(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import store_papers

    if not await store_papers.delete_paper(conn, args.id):
        print(f"hubstream papers: no paper {args.id}", file=sys.stderr)
        return 1
    print(f"paper {args.id} removed")
    return 0
