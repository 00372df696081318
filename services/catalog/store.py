"""All of the catalog's SQL."""

from __future__ import annotations

from datetime import datetime

import asyncpg

Record = asyncpg.Record


async def lock_name(conn: asyncpg.Connection, name: str) -> None:
    """A lock on `name` held until the transaction ends (a PostgreSQL advisory lock): for changes that must queue
    though they lock no common row first (store_collections.lock_owner, store_orgs.lock_groups)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name)


async def account(conn: asyncpg.Connection | asyncpg.Pool, name: str) -> Record | None:
    return await conn.fetchrow("SELECT * FROM accounts WHERE name = $1", name)


async def insert_account(
    conn: asyncpg.Connection,
    *,
    name: str,
    kind: str,
    fullname: str,
    email: str | None,
    is_admin: bool,
    service_role: str | None = None,
) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO accounts (name, kind, fullname, email, is_admin, service_role) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (name) DO NOTHING RETURNING true""",
        name,
        kind,
        fullname,
        email,
        is_admin,
        service_role,
    )
    return bool(inserted)


async def add_member(conn: asyncpg.Connection, *, org: str, user: str, role: str) -> None:
    await conn.execute(
        """INSERT INTO org_members (org, user_name, role) VALUES ($1, $2, $3)
           ON CONFLICT (org, user_name) DO UPDATE SET role = EXCLUDED.role""",
        org,
        user,
        role,
    )


async def orgs_of(conn: asyncpg.Connection | asyncpg.Pool, user: str) -> list[Record]:
    return await conn.fetch(
        """SELECT a.name, a.fullname, m.role FROM org_members m JOIN accounts a ON a.name = m.org
           WHERE m.user_name = $1 ORDER BY a.name""",
        user,
    )


async def member_role(conn: asyncpg.Connection | asyncpg.Pool, org: str, user: str) -> str | None:
    return await conn.fetchval("SELECT role FROM org_members WHERE org = $1 AND user_name = $2", org, user)


async def resource_group_role(conn: asyncpg.Connection | asyncpg.Pool, group_id: str, user: str) -> str | None:
    """The user's role in a resource group (theirs, else the group's auto-join role), None if they hold none."""
    return await conn.fetchval(
        """SELECT coalesce(m.role, CASE WHEN g.auto_join THEN g.auto_join_role END) FROM resource_groups g
           LEFT JOIN resource_group_members m ON m.group_id = g.id AND m.user_name = $2 WHERE g.id = $1""",
        group_id,
        user,
    )


async def insert_token(
    conn: asyncpg.Connection, *, token_id: str, user: str, display_name: str, role: str, token_sha256: str
) -> datetime:
    return await conn.fetchval(
        """INSERT INTO tokens (id, user_name, display_name, role, token_sha256) VALUES ($1, $2, $3, $4, $5)
           RETURNING created_at""",
        token_id,
        user,
        display_name,
        role,
        token_sha256,
    )


async def revoke_token(conn: asyncpg.Connection, token_id: str) -> Record | None:
    return await conn.fetchrow(
        """UPDATE tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
           RETURNING id, user_name, token_sha256, revoked_at""",
        token_id,
    )


async def active_token(conn: asyncpg.Connection | asyncpg.Pool, token_sha256: str) -> Record | None:
    return await conn.fetchrow(
        """SELECT t.id, t.user_name, t.role, t.display_name, t.created_at, a.service_role
           FROM tokens t JOIN accounts a ON a.name = t.user_name
           WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL""",
        token_sha256,
    )


async def token_by_digest(conn: asyncpg.Connection | asyncpg.Pool, token_sha256: str) -> Record | None:
    """The token with this digest, active or revoked."""
    return await conn.fetchrow("SELECT * FROM tokens WHERE token_sha256 = $1", token_sha256)


async def token(conn: asyncpg.Connection | asyncpg.Pool, token_id: str) -> Record | None:
    return await conn.fetchrow("SELECT * FROM tokens WHERE id = $1", token_id)


async def tokens_of(conn: asyncpg.Connection | asyncpg.Pool, user: str) -> list[Record]:
    return await conn.fetch(
        "SELECT id, display_name, role, created_at, revoked_at FROM tokens WHERE user_name = $1 ORDER BY created_at",
        user,
    )


async def insert_repo(
    conn: asyncpg.Connection,
    *,
    repo_id: str,
    repo_type: str,
    namespace: str,
    name: str,
    private: bool,
    author: str,
) -> Record | None:
    return await conn.fetchrow(
        """INSERT INTO repos (id, repo_type, namespace, name, private, author) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (repo_type, namespace, name) DO NOTHING RETURNING *""",
        repo_id,
        repo_type,
        namespace,
        name,
        private,
        author,
    )


async def repo(conn: asyncpg.Connection | asyncpg.Pool, repo_type: str, namespace: str, name: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM repos WHERE repo_type = $1 AND namespace = $2 AND name = $3",
        repo_type,
        namespace,
        name,
    )
