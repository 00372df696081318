"""The catalog's SQL for organizations' members and overviews, and resource groups."""

from __future__ import annotations

import asyncpg

from services.catalog import store

Conn = asyncpg.Connection | asyncpg.Pool
Record = asyncpg.Record


async def members(conn: Conn, org: str, *, offset: int, limit: int) -> list[Record]:
    return await conn.fetch(
        f"""SELECT a.name, a.fullname, m.role FROM org_members m JOIN accounts a ON a.name = m.user_name
            WHERE m.org = $1 ORDER BY a.name OFFSET {offset:d} LIMIT {limit:d}""",
        org,
    )


async def counts(conn: Conn, namespace: str) -> Record:
    """Public repos by type, likes given and members (orgs) of an account."""
    return await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE r.repo_type = 'model') AS models,
                  count(*) FILTER (WHERE r.repo_type = 'dataset') AS datasets,
                  count(*) FILTER (WHERE r.repo_type = 'space') AS spaces,
                  (SELECT count(*) FROM repo_likes WHERE user_name = $1) AS likes,
                  (SELECT count(*) FROM org_members WHERE org = $1) AS users
           FROM repos r WHERE r.namespace = $1 AND NOT r.private""",
        namespace,
    )


async def hidden_private_repos(conn: Conn, user: str, repo_type: str) -> tuple[str, ...]:
    """Private repos of the user's orgs (as `namespace/name`) in a resource group that gives them no role.

    Listings show the private repos of every org a user belongs to; these are the exceptions.
    """
    rows = await conn.fetch(
        """SELECT r.full_id FROM repos r
           JOIN org_members m ON m.org = r.namespace AND m.user_name = $1 AND m.role <> 'admin'
           JOIN resource_groups g ON g.id = r.resource_group AND NOT g.auto_join
           WHERE r.private AND r.repo_type = $2
             AND NOT EXISTS (SELECT 1 FROM resource_group_members gm WHERE gm.group_id = g.id AND gm.user_name = $1)""",
        user,
        repo_type,
    )
    return tuple(r["full_id"] for r in rows)


async def insert_group(
    conn: asyncpg.Connection, *, group_id: str, org: str, name: str, description: str, auto_join: bool, role: str
) -> Record | None:
    return await conn.fetchrow(
        """INSERT INTO resource_groups (id, org, name, description, auto_join, auto_join_role)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org, name) DO NOTHING RETURNING *""",
        group_id,
        org,
        name,
        description,
        auto_join,
        role,
    )


async def group(conn: Conn, org: str, group_id: str, *, for_update: bool = False) -> Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM resource_groups WHERE org = $1 AND id = $2{lock}", org, group_id)


async def group_summary(conn: Conn, group_id: str) -> Record | None:
    return await conn.fetchrow(
        """SELECT g.id, g.name, (SELECT count(*) FROM resource_group_members m WHERE m.group_id = g.id) AS num_users
           FROM resource_groups g WHERE g.id = $1""",
        group_id,
    )


async def groups(conn: Conn, org: str) -> list[Record]:
    return await conn.fetch("SELECT * FROM resource_groups WHERE org = $1 ORDER BY created_at, id", org)


async def update_group(conn: asyncpg.Connection, group_id: str, name: str, description: str) -> bool:
    """False when another group of the org has that name."""
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction survives the unique violation
            await conn.execute(
                "UPDATE resource_groups SET name = $2, description = $3 WHERE id = $1", group_id, name, description
            )
    except asyncpg.UniqueViolationError:
        return False
    return True


async def set_auto_join(conn: asyncpg.Connection, group_id: str, enabled: bool, role: str) -> None:
    await conn.execute(
        "UPDATE resource_groups SET auto_join = $2, auto_join_role = $3 WHERE id = $1", group_id, enabled, role
    )


async def delete_group(conn: asyncpg.Connection, group_id: str) -> None:
    await conn.execute("DELETE FROM resource_groups WHERE id = $1", group_id)


async def group_users(conn: Conn, group_ids: list[str]) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM resource_group_members WHERE group_id = ANY($1::text[]) ORDER BY added_at, user_name",
        group_ids,
    )


async def group_repos(conn: Conn, group_ids: list[str]) -> list[Record]:
    return await conn.fetch(
        """SELECT resource_group, repo_type, namespace, name, private FROM repos
           WHERE resource_group = ANY($1::text[]) ORDER BY full_id""",
        group_ids,
    )


async def non_members(conn: Conn, org: str, users: list[str]) -> list[str]:
    """Of these users, those who are not members of the organization."""
    rows = await conn.fetch(
        """SELECT u FROM unnest($2::text[]) AS u
           WHERE NOT EXISTS (SELECT 1 FROM org_members WHERE org = $1 AND user_name = u) ORDER BY u""",
        org,
        users,
    )
    return [r["u"] for r in rows]


async def upsert_group_user(conn: asyncpg.Connection, group_id: str, user: str, role: str, added_by: str) -> None:
    await conn.execute(
        """INSERT INTO resource_group_members (group_id, user_name, role, added_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (group_id, user_name) DO UPDATE SET role = EXCLUDED.role""",
        group_id,
        user,
        role,
        added_by,
    )


async def update_group_user(conn: asyncpg.Connection, group_id: str, user: str, role: str) -> bool:
    done = await conn.fetchval(
        "UPDATE resource_group_members SET role = $3 WHERE group_id = $1 AND user_name = $2 RETURNING true",
        group_id,
        user,
        role,
    )
    return bool(done)


async def remove_group_user(conn: asyncpg.Connection, group_id: str, user: str) -> bool:
    done = await conn.fetchval(
        "DELETE FROM resource_group_members WHERE group_id = $1 AND user_name = $2 RETURNING true", group_id, user
    )
    return bool(done)


async def lock_groups(conn: asyncpg.Connection, org: str) -> None:
    """Serialise the changes that move an organization's repos between its resource groups, until the
    transaction ends. A group created with several repos moves them in the order the request lists them, and a
    group's deletion moves its repos out (the foreign key's cascade) in the table's order: two of them crossed,
    each holding a repo the other waited for (a deadlock, answered 500). Each takes this lock first."""
    await store.lock_name(conn, f"hubstream.resource-groups:{org}")


async def set_repo_group(conn: asyncpg.Connection, repo_id: str, group_id: str | None) -> None:
    await conn.execute("UPDATE repos SET resource_group = $2 WHERE id = $1", repo_id, group_id)
