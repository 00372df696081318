"""Resource groups on repos: creating a repo in one (`create_repo(resource_group_id=...)`) and showing it in info."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.catalog import store, store_orgs
from services.catalog.errors import catalog_error
from services.runtime.auth import Principal


async def assign_new_repo(conn: asyncpg.Connection, principal: Principal, repo: asyncpg.Record, group_id: str) -> None:
    """Put a repo being created into a group of its organization: for org admins and the group's writers.

    Raising rolls back the caller's transaction, so a refused group leaves no repo behind either.
    """
    await store_orgs.lock_groups(conn, repo["namespace"])
    group = await store_orgs.group(conn, repo["namespace"], group_id.lower())
    if group is None:
        raise catalog_error(404, "ResourceGroupNotFound", f"no resource group {group_id!r} in {repo['namespace']}")
    if await store.member_role(conn, repo["namespace"], principal.user) != "admin" and (
        await store.resource_group_role(conn, group["id"], principal.user) not in ("admin", "write")
    ):
        raise catalog_error(
            403, "Forbidden", f"you ({principal.user}) may not create repos in the resource group {group['name']!r}"
        )
    await store_orgs.set_repo_group(conn, repo["id"], group["id"])


async def info_field(conn: asyncpg.Connection | asyncpg.Pool, group_id: str) -> dict[str, Any] | None:
    """The `resourceGroup` of a repo's info, as the Hub gives it: id, name and how many users it has."""
    row = await store_orgs.group_summary(conn, group_id)
    return None if row is None else {"id": row["id"], "name": row["name"], "numUsers": row["num_users"]}
