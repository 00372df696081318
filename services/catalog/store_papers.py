"""The SQL of papers (registered by operators with `hubstream papers add`; the mirror copies others)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg

Record = asyncpg.Record
Conn = asyncpg.Connection | asyncpg.Pool


def parse_day(value: str) -> datetime:
    """`YYYY-MM-DD` (or a full ISO time) as a UTC time; ValueError when it is neither."""
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def upsert_paper(
    conn: asyncpg.Connection,
    *,
    paper_id: str,
    title: str,
    summary: str,
    authors: list[str],
    published_at: datetime,
    submitted_on_daily: datetime | None,
    submitted_by: str | None,
    project_page: str | None,
    github_repo: str | None,
) -> bool:
    """Insert or replace a paper; True when it is new."""
    return await conn.fetchval(
        """INSERT INTO papers (id, title, summary, authors, published_at, submitted_on_daily, submitted_by,
                               project_page, github_repo)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, summary = EXCLUDED.summary,
               authors = EXCLUDED.authors, published_at = EXCLUDED.published_at,
               submitted_on_daily = EXCLUDED.submitted_on_daily, submitted_by = EXCLUDED.submitted_by,
               project_page = EXCLUDED.project_page, github_repo = EXCLUDED.github_repo, updated_at = now()
           RETURNING xmax = 0""",
        paper_id,
        title,
        summary,
        authors,
        published_at,
        submitted_on_daily,
        submitted_by,
        project_page,
        github_repo,
    )


async def delete_paper(conn: asyncpg.Connection, paper_id: str) -> bool:
    return bool(await conn.fetchval("DELETE FROM papers WHERE id = $1 RETURNING true", paper_id))


async def paper(conn: Conn, paper_id: str) -> Record | None:
    return await conn.fetchrow("SELECT * FROM papers WHERE id = $1", paper_id)


async def search(conn: Conn, text: str | None, limit: int) -> list[Record]:
    """Papers whose id, title or summary contains `text` (all, without one), newest first."""
    pattern = None if not text else "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return await conn.fetch(
        """SELECT * FROM papers
           WHERE $1::text IS NULL OR id ILIKE $1 OR title ILIKE $1 OR summary ILIKE $1
           ORDER BY published_at DESC, id LIMIT $2""",
        pattern,
        limit,
    )


async def daily(
    conn: Conn,
    *,
    start: datetime | None,
    end: datetime | None,
    submitter: str | None,
    trending: bool,
    offset: int,
    limit: int,
) -> list[Record]:
    """Daily papers submitted in [start, end), by one submitter or any."""
    order = "upvotes DESC, submitted_on_daily DESC, id" if trending else "submitted_on_daily DESC, id"
    return await conn.fetch(
        f"""SELECT * FROM papers
            WHERE submitted_on_daily IS NOT NULL
              AND ($1::timestamptz IS NULL OR submitted_on_daily >= $1)
              AND ($2::timestamptz IS NULL OR submitted_on_daily < $2)
              AND ($3::text IS NULL OR submitted_by = $3)
            ORDER BY {order} OFFSET $4 LIMIT $5""",
        start,
        end,
        submitter,
        offset,
        limit,
    )


async def repos_citing(conn: Conn, paper_id: str, readable: tuple[str, ...]) -> list[Record]:
    """Repos whose card tags name the paper (`arxiv:ID`) and that the caller may read."""
    return await conn.fetch(
        """SELECT * FROM repos WHERE tags @> ARRAY[$1::text] AND (NOT private OR namespace = ANY($2::text[]))
           ORDER BY repo_type, likes DESC, full_id""",
        f"arxiv:{paper_id}",
        list(readable),
    )
