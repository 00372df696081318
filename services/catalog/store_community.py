"""The catalog's SQL for discussions, pull requests and their events, and likes."""

from __future__ import annotations

from typing import Any

import asyncpg

Conn = asyncpg.Connection | asyncpg.Pool
Record = asyncpg.Record


async def next_number(conn: asyncpg.Connection, repo_id: str) -> int:
    """The repo's next discussion number, shared with `refs/pr/N` refs as on the Hub. Call with the repo locked."""
    top = await conn.fetchval(
        """SELECT greatest(
               (SELECT max(num) FROM discussions WHERE repo_id = $1),
               (SELECT max(name::int) FROM refs WHERE repo_id = $1 AND kind = 'pr' AND name ~ '^[0-9]{1,9}$'))""",
        repo_id,
    )
    return (top or 0) + 1


async def insert_discussion(
    conn: asyncpg.Connection,
    *,
    repo_id: str,
    num: int,
    title: str,
    author: str,
    is_pr: bool,
    status: str,
    base_branch: str | None = None,
    base_sha: str | None = None,
) -> Record:
    return await conn.fetchrow(
        """INSERT INTO discussions (repo_id, num, title, author, is_pr, status, base_branch, base_sha)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
        repo_id,
        num,
        title,
        author,
        is_pr,
        status,
        base_branch,
        base_sha,
    )


async def discussion(conn: Conn, repo_id: str, num: int, *, for_update: bool = False) -> Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM discussions WHERE repo_id = $1 AND num = $2{lock}", repo_id, num)


async def list_discussions(
    conn: Conn,
    repo_id: str,
    *,
    is_pr: bool | None,
    status: str | None,
    author: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Record], int]:
    """One page, newest first, and how many match in all."""
    where, args = ["repo_id = $1"], [repo_id]
    for column, value in (("is_pr", is_pr), ("status", status), ("author", author)):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    condition = " AND ".join(where)
    total = await conn.fetchval(f"SELECT count(*) FROM discussions WHERE {condition}", *args)
    rows = await conn.fetch(
        f"SELECT * FROM discussions WHERE {condition} ORDER BY num DESC OFFSET {offset:d} LIMIT {limit:d}", *args
    )
    return rows, total


async def set_status(conn: asyncpg.Connection, repo_id: str, num: int, status: str) -> None:
    await conn.execute("UPDATE discussions SET status = $3 WHERE repo_id = $1 AND num = $2", repo_id, num, status)


async def set_title(conn: asyncpg.Connection, repo_id: str, num: int, title: str) -> None:
    await conn.execute("UPDATE discussions SET title = $3 WHERE repo_id = $1 AND num = $2", repo_id, num, title)


async def set_merged(conn: asyncpg.Connection, repo_id: str, num: int, merge_commit: str) -> None:
    await conn.execute(
        "UPDATE discussions SET status = 'merged', merge_commit = $3 WHERE repo_id = $1 AND num = $2",
        repo_id,
        num,
        merge_commit,
    )


async def insert_event(
    conn: asyncpg.Connection, *, event_id: str, repo_id: str, num: int, kind: str, author: str, data: dict[str, Any]
) -> Record:
    return await conn.fetchrow(
        """INSERT INTO discussion_events (id, repo_id, num, kind, author, data) VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING *""",
        event_id,
        repo_id,
        num,
        kind,
        author,
        data,
    )


async def events(conn: Conn, repo_id: str, num: int) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM discussion_events WHERE repo_id = $1 AND num = $2 ORDER BY created_at, id", repo_id, num
    )


async def comment_for_update(conn: asyncpg.Connection, repo_id: str, num: int, event_id: str) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM discussion_events WHERE id = $3 AND repo_id = $1 AND num = $2 AND kind = 'comment'
           FOR UPDATE""",
        repo_id,
        num,
        event_id,
    )


async def set_event_data(conn: asyncpg.Connection, event_id: str, data: dict[str, Any]) -> Record:
    return await conn.fetchrow("UPDATE discussion_events SET data = $2 WHERE id = $1 RETURNING *", event_id, data)


# Likes: the repo's `likes` counter moves in the same statement as the like itself, so the two never disagree.


async def lock_likes(conn: asyncpg.Connection, repo_id: str) -> int | None:
    """The repo's like count, its row locked first (None if the repo is gone). An unlike removed its like row
    and then waited for the repo's; a repo deletion held the repo's and waited for the like rows it cascades
    to: a deadlock. The repo's row first, as the deletion takes them."""
    return await conn.fetchval("SELECT likes FROM repos WHERE id = $1 FOR NO KEY UPDATE", repo_id)


async def like(conn: asyncpg.Connection, repo_id: str, user: str) -> bool:
    return bool(
        await conn.fetchval(
            """WITH added AS (
                   INSERT INTO repo_likes (repo_id, user_name) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING repo_id
               )
               UPDATE repos SET likes = likes + 1 WHERE id IN (SELECT repo_id FROM added) RETURNING true""",
            repo_id,
            user,
        )
    )


async def unlike(conn: asyncpg.Connection, repo_id: str, user: str) -> bool:
    return bool(
        await conn.fetchval(
            """WITH removed AS (
                   DELETE FROM repo_likes WHERE repo_id = $1 AND user_name = $2 RETURNING repo_id
               )
               UPDATE repos SET likes = greatest(likes - 1, 0) WHERE id IN (SELECT repo_id FROM removed)
               RETURNING true""",
            repo_id,
            user,
        )
    )


async def likers(conn: Conn, repo_id: str, *, offset: int, limit: int) -> list[Record]:
    return await conn.fetch(
        f"""SELECT a.name, a.fullname FROM repo_likes l JOIN accounts a ON a.name = l.user_name
            WHERE l.repo_id = $1 ORDER BY l.created_at DESC, a.name OFFSET {offset:d} LIMIT {limit:d}""",
        repo_id,
    )


async def liked_repos(conn: Conn, user: str, viewer: str | None, *, offset: int, limit: int) -> list[Record]:
    """The repos `user` liked that the viewer may see: public ones, their own, and their orgs' private ones
    unless a resource group keeps those from them (repos.can_read, in SQL)."""
    return await conn.fetch(
        f"""SELECT l.created_at, r.repo_type, r.namespace, r.name FROM repo_likes l JOIN repos r ON r.id = l.repo_id
            LEFT JOIN org_members m ON m.org = r.namespace AND m.user_name = $2
            WHERE l.user_name = $1 AND (
                NOT r.private OR r.namespace = $2 OR m.role = 'admin'
                OR (m.role IS NOT NULL AND (r.resource_group IS NULL OR EXISTS (
                    SELECT 1 FROM resource_groups g WHERE g.id = r.resource_group AND (g.auto_join OR EXISTS (
                        SELECT 1 FROM resource_group_members gm WHERE gm.group_id = g.id AND gm.user_name = $2))))))
            ORDER BY l.created_at DESC, r.id OFFSET {offset:d} LIMIT {limit:d}""",
        user,
        viewer,
    )
