"""Who may see which source: global sources are everyone's, private ones their owner's."""

from __future__ import annotations

import uuid

import asyncpg

from services.ingest import store
from services.runtime.auth import Principal
from services.runtime.errors import ApiError


def sees_all(principal: Principal) -> bool:
    return principal.role == "admin"


async def find_source(db: asyncpg.Pool | asyncpg.Connection, principal: Principal, identifier: str) -> asyncpg.Record:
    """A source by id, or by dataset ("owner/name", as Nia's clients also name them); 404 if not visible."""
    if "\x00" in identifier:  # PostgreSQL cannot even compare it: no source is named so
        raise ApiError(404, "SourceNotFound", f"no data source {identifier!r}")
    try:
        row = await store.visible_source(db, uuid.UUID(identifier), principal.user, sees_all(principal))
    except ValueError:
        dataset = identifier.removeprefix("huggingface_dataset:")
        rows = await store.visible_sources_of_dataset(db, dataset, principal.user, sees_all(principal))
        row = rows[0] if rows else None
    if row is None:
        raise ApiError(404, "SourceNotFound", f"no data source {identifier!r} (or it is someone else's private source)")
    return row


def require_may_change(principal: Principal, row: asyncpg.Record, action: str) -> None:
    """A shared source is changed (deleted, cancelled) only by who asked for it or an admin: 403 otherwise."""
    if row["is_global"] and not sees_all(principal) and row["requested_by"] != principal.user:
        raise ApiError(
            403, "Forbidden", f"data source {row['id']} is shared; only who asked for it or an admin may {action} it"
        )
