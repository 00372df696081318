"""The catalog's SQL for repo listing, settings, moves, deletion and cards (the rest is in store.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import asyncpg

Record = asyncpg.Record
Conn = asyncpg.Connection | asyncpg.Pool

# Listing sort keys -> column. Fixed names only: they are pasted into SQL.
SORT_COLUMNS = {
    "id": "full_id",
    "lastModified": "updated_at",
    "createdAt": "created_at",
    "likes": "likes",
    "downloads": "downloads",
}

LIST_COLUMNS = (
    "id, repo_type, namespace, name, private, author, head_sha, created_at, updated_at, gated, sdk, tags, "
    "likes, downloads, full_id"
)


@dataclass(frozen=True)
class ListQuery:
    """One page of a listing: filters, a keyset order and where the previous page stopped."""

    repo_type: str
    sort: str  # a key of SORT_COLUMNS
    descending: bool
    limit: int
    readable_namespaces: tuple[str, ...] | None  # None: anonymous, public repos only
    author: str | None = None
    search: tuple[str, ...] = ()  # every term must be in the id (case-insensitive substring)
    tags: tuple[str, ...] = ()  # every tag must be on the repo
    gated: bool | None = None
    hidden: tuple[str, ...] = ()  # private repos of the viewer's orgs that a resource group keeps from them
    after: tuple[Any, ...] | None = None  # (sort value, full_id) of the last row of the previous page
    with_card: bool = False


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_sql(q: ListQuery, *, offset: int = 0) -> tuple[str, list[Any]]:
    """The SELECT for one page, and its arguments. Every order is (key, full_id): total, so pages never overlap."""
    args: list[Any] = [q.repo_type]
    where = ["repo_type = $1"]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if q.readable_namespaces is None:
        where.append("NOT private")
    else:
        where.append(f"(NOT private OR namespace = ANY({arg(list(q.readable_namespaces))}::text[]))")
    if q.hidden:  # by full_id, which every listing index holds: the scans stay index-only
        where.append(f"full_id <> ALL({arg(list(q.hidden))}::text[])")
    column = SORT_COLUMNS[q.sort]
    if q.author is not None and column == "full_id":
        # The author's repos are one range of full_id ("author/" up to "author0": '0' follows '/' in the
        # bytewise order, and no name holds a '/'): the id order reads only them from repos_list_id. Said as
        # `namespace = ...` too, the planner would read all of the author's rows by namespace and sort them.
        author = arg(q.author)
        where.append(f"full_id >= {author} || '/' AND full_id < {author} || '0'")
    elif q.author is not None:  # the other orders have indexes that lead with the namespace (migration 013)
        where.append(f"namespace = {arg(q.author)}")
    for term in q.search:
        where.append(f"full_id ILIKE {arg(_like_pattern(term))}")
    if q.tags:
        where.append(f"tags @> {arg(list(q.tags))}::text[]")
    if q.gated is not None:
        where.append("gated <> 'false'" if q.gated else "gated = 'false'")
    op, order = ("<", "DESC") if q.descending else (">", "ASC")
    if q.after is not None:
        if column == "full_id":
            where.append(f"full_id {op} {arg(q.after[1])}")
        else:
            where.append(f"({column}, full_id) {op} ({arg(q.after[0])}, {arg(q.after[1])})")
    keys = ["full_id"] if column == "full_id" else [column, "full_id"]

    def order_by(alias: str) -> str:
        return ", ".join(f"{alias}{key} {order}" for key in keys)

    columns = ", ".join(f"r.{c.strip()}" for c in LIST_COLUMNS.split(","))
    if q.with_card:
        columns += ", r.card_data"
    # Find the page's ids first (an index-only scan when an index covers the order and the filters), then read
    # only those rows; the outer ORDER BY sorts the page itself. One row more than the page: is there a next?
    # Each row is read by the unique key (repo_type, namespace, name), in a LATERAL subquery whose LIMIT keeps
    # it a nested loop of unique-index lookups: a plain join on full_id let the planner pick the trigram index
    # for the equality (each lookup walks posting lists as long as the table: a page took 56 s at 100,000
    # repos) or a hash join over a scan of the whole table (each page O(table)): either made a listing walked
    # to its end (a mirror's sync) quadratic in the number of repos.
    sql = (
        f"SELECT {columns} FROM (SELECT full_id, namespace FROM repos WHERE {' AND '.join(where)} "
        f"ORDER BY {order_by('')} LIMIT {arg(q.limit + 1)} OFFSET {arg(offset)}) AS page "
        "CROSS JOIN LATERAL (SELECT * FROM repos WHERE repo_type = $1 AND namespace = page.namespace "
        'AND name = substr(page.full_id, length(page.namespace) + 2) COLLATE "default" LIMIT 1) AS r '
        f"ORDER BY {order_by('r.')}"
    )
    return sql, args


async def list_repos(pool: asyncpg.Pool, q: ListQuery) -> list[Record]:
    sql, args = list_sql(q)
    async with pool.acquire() as conn, conn.transaction():
        # The best plan depends on the values (a rare tag wants the tag index, a common one the order's index;
        # a search term likewise). A prepared statement may switch to one generic plan for every value after
        # five runs on a connection, and that plan can be 50x slower: always plan with the values.
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        return await conn.fetch(sql, *args)


async def readable_namespaces(conn: Conn, user: str) -> tuple[str, ...]:
    """Namespaces whose private repos `user` may read: their own and every organization they belong to."""
    orgs = await conn.fetch("SELECT org FROM org_members WHERE user_name = $1", user)
    return (user, *(r["org"] for r in orgs))


async def repo_for_update(conn: asyncpg.Connection, repo_type: str, namespace: str, name: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM repos WHERE repo_type = $1 AND namespace = $2 AND name = $3 FOR UPDATE",
        repo_type,
        namespace,
        name,
    )


async def repo_type_of(conn: Conn, repo_pk: str) -> str | None:
    return await conn.fetchval("SELECT repo_type FROM repos WHERE id = $1", repo_pk)


async def set_repo_card(conn: asyncpg.Connection, repo_pk: str, card: dict[str, Any] | None, tags: list[str]) -> None:
    await conn.execute("UPDATE repos SET card_data = $2, tags = $3 WHERE id = $1", repo_pk, card, tags)


async def set_created_extras(conn: asyncpg.Connection, repo_pk: str, *, sdk: str | None, tags: list[str]) -> None:
    await conn.execute("UPDATE repos SET sdk = $2, tags = $3 WHERE id = $1", repo_pk, sdk, tags)


async def delete_repo(conn: asyncpg.Connection, repo_pk: str) -> None:
    await conn.execute("DELETE FROM repos WHERE id = $1", repo_pk)


async def rename_repo(conn: asyncpg.Connection, repo_pk: str, namespace: str, name: str) -> Record | None:
    """Give the repo its new name; None if a repo of that type already has it."""
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction survives the conflict
            return await conn.fetchrow(
                "UPDATE repos SET namespace = $2, name = $3, updated_at = now() WHERE id = $1 RETURNING *",
                repo_pk,
                namespace,
                name,
            )
    except asyncpg.UniqueViolationError:
        return None


async def update_settings(conn: asyncpg.Connection, repo_pk: str, *, private: bool | None, gated: str | None) -> Record:
    return await conn.fetchrow(
        """UPDATE repos SET private = coalesce($2, private), gated = coalesce($3, gated), updated_at = now()
           WHERE id = $1 RETURNING *""",
        repo_pk,
        private,
        gated,
    )


async def add_redirect(conn: asyncpg.Connection, repo_type: str, namespace: str, name: str, repo_pk: str) -> None:
    await conn.execute(
        """INSERT INTO repo_redirects (repo_type, namespace, name, repo) VALUES ($1, $2, $3, $4)
           ON CONFLICT (repo_type, namespace, name) DO UPDATE SET repo = EXCLUDED.repo""",
        repo_type,
        namespace,
        name,
        repo_pk,
    )


async def drop_redirect(conn: asyncpg.Connection, repo_type: str, namespace: str, name: str) -> None:
    await conn.execute(
        "DELETE FROM repo_redirects WHERE repo_type = $1 AND namespace = $2 AND name = $3", repo_type, namespace, name
    )


async def redirect_target(conn: Conn, repo_type: str, namespace: str, name: str) -> Record | None:
    """The repo that was called `namespace/name` before it moved, if no repo has that name now."""
    return await conn.fetchrow(
        """SELECT r.* FROM repo_redirects d JOIN repos r ON r.id = d.repo
           WHERE d.repo_type = $1 AND d.namespace = $2 AND d.name = $3""",
        repo_type,
        namespace,
        name,
    )


async def copy_repos(conn: asyncpg.Connection, records: list[tuple[Any, ...]]) -> None:
    """Bulk load (benchmarks): rows of (id, repo_type, namespace, name, private, author, created_at, updated_at,
    tags, likes, downloads)."""
    await conn.copy_records_to_table(
        "repos",
        records=records,
        columns=[
            "id",
            "repo_type",
            "namespace",
            "name",
            "private",
            "author",
            "created_at",
            "updated_at",
            "tags",
            "likes",
            "downloads",
        ],
    )


async def copy_users(conn: asyncpg.Connection, names: list[str]) -> None:
    """Bulk load (benchmarks)."""
    await conn.copy_records_to_table("accounts", records=[(n, "user") for n in names], columns=["name", "kind"])


async def vacuum_analyze_repos(conn: Conn) -> None:
    await conn.execute("VACUUM ANALYZE repos")


async def random_public_ids(conn: Conn, how_many: int, seed: int) -> list[str]:
    """Ids of public repos picked at random (benchmarks)."""
    rows = await conn.fetch(
        "SELECT full_id FROM repos WHERE NOT private ORDER BY md5(id || $1::text) LIMIT $2", str(seed), how_many
    )
    return [r["full_id"] for r in rows]


async def count_matching(conn: Conn, q: ListQuery) -> int:
    """How many repos a listing would show in all (benchmarks)."""
    sql, args = list_sql(replace(q, limit=2**31 - 2, after=None))
    return await conn.fetchval(f"SELECT count(*) FROM ({sql}) AS listed", *args)


async def row_at(conn: Conn, q: ListQuery, position: int) -> Record | None:
    """The repo at `position` (from 0) in a listing's order (benchmarks: a deep page's cursor)."""
    sql, args = list_sql(replace(q, limit=0, after=None), offset=position)
    return await conn.fetchrow(sql, *args)


async def drop_secondary_indexes(conn: asyncpg.Connection) -> list[str]:
    """Drop the repos table's indexes other than its keys; return their definitions (bulk loads: building an
    index once after COPY is far cheaper than maintaining it row by row)."""
    rows = await conn.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
           FROM pg_index i WHERE i.indrelid = 'repos'::regclass AND NOT i.indisprimary AND NOT i.indisunique"""
    )
    for r in rows:
        await conn.execute(f"DROP INDEX {r['name']}")
    return [r["definition"] for r in rows]


async def create_indexes(conn: asyncpg.Connection, definitions: list[str]) -> None:
    await conn.execute("SET maintenance_work_mem = '256MB'")  # this session only: sorts in memory
    for definition in definitions:
        await conn.execute(definition)
