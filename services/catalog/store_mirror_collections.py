"""The catalog's SQL for collections copied from a mirror's upstream (read paths are in store_collections.py)."""

from __future__ import annotations

from typing import Any

import asyncpg

Conn = asyncpg.Connection | asyncpg.Pool
Record = asyncpg.Record


async def mirrored(conn: Conn, mirror_name: str) -> list[Record]:
    """The mirror's copied collections, with what the upstream showed at their last copy."""
    return await conn.fetch(
        """SELECT m.collection_id, m.upstream_updated, m.upstream_digest, c.upstream_slug
           FROM mirrored_collections m JOIN collections c ON c.id = m.collection_id WHERE m.mirror = $1""",
        mirror_name,
    )


async def collection_for_update(conn: asyncpg.Connection, collection_id: str) -> Record | None:
    return await conn.fetchrow("SELECT * FROM collections WHERE id = $1 FOR UPDATE", collection_id)


async def ensure_owner(conn: asyncpg.Connection, name: str, kind: str) -> None:
    """The upstream owner's account, as a user or an organization as the upstream says (kept if it exists)."""
    await conn.execute(
        "INSERT INTO accounts (name, kind, fullname) VALUES ($1, $2, '') ON CONFLICT (name) DO NOTHING", name, kind
    )


async def title_taken(conn: asyncpg.Connection, owner: str, title: str, collection_id: str) -> Record | None:
    """Another collection of `owner` with this title (its id, title and mirror), locked, if there is one."""
    return await conn.fetchrow(
        "SELECT id, title, mirror FROM collections WHERE owner = $1 AND title = $2 AND id <> $3 FOR UPDATE",
        owner,
        title,
        collection_id,
    )


async def set_title(conn: asyncpg.Connection, collection_id: str, title: str) -> None:
    await conn.execute("UPDATE collections SET title = $2 WHERE id = $1", collection_id, title)


async def copied_repo_ids(conn: asyncpg.Connection, mirror_name: str, names: list[tuple[str, str]]) -> dict[str, str]:
    """`type/owner/name` -> local id, for those of the (type, owner/name) pairs that are copies from this mirror."""
    split = [(repo_type, *repo_id.split("/", 1)) for repo_type, repo_id in names]
    rows = await conn.fetch(
        """SELECT r.id, r.repo_type || '/' || r.namespace || '/' || r.name AS spec
           FROM unnest($2::text[], $3::text[], $4::text[]) AS n (repo_type, namespace, name)
           JOIN repos r ON r.repo_type = n.repo_type AND r.namespace = n.namespace AND r.name = n.name
           WHERE r.mirror = $1""",
        mirror_name,
        [t for t, _, _ in split],
        [ns for _, ns, _ in split],
        [n for _, _, n in split],
    )
    return {r["spec"]: r["id"] for r in rows}


async def write_collection(conn: asyncpg.Connection, *, exists: bool, fields: dict[str, Any]) -> None:
    """Insert the collection, or set every field of it; its items are then written by `replace_items`."""
    args = (
        fields["id"],
        fields["owner"],
        fields["title"],
        fields["description"],
        fields["private"],
        fields["theme"],
        fields["position"],
        fields["upvotes"],
        fields["updated_at"],
        fields["mirror"],
        fields["upstream_slug"],
        fields["gating"],
    )
    if exists:
        await conn.execute(
            """UPDATE collections SET owner = $2, title = $3, description = $4, private = $5, theme = $6,
                   position = $7, upvotes = $8, updated_at = $9, mirror = $10, upstream_slug = $11,
                   gating = $12
               WHERE id = $1""",
            *args,
        )
    else:
        await conn.execute(
            """INSERT INTO collections (id, owner, title, description, private, theme, position, upvotes,
                   created_at, updated_at, mirror, upstream_slug, gating)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12)""",
            *args,
        )


async def replace_items(conn: asyncpg.Connection, collection_id: str, rows: list[tuple[Any, ...]]) -> None:
    """Rows of (id, item_type, item_key, note, position, upstream), in place of the collection's items."""
    await conn.execute("DELETE FROM collection_items WHERE collection_id = $1", collection_id)
    await conn.executemany(
        """INSERT INTO collection_items (id, collection_id, item_type, item_key, note, position, upstream)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        [(item_id, collection_id, *rest) for item_id, *rest in rows],
    )


async def upsert_mirrored(
    conn: asyncpg.Connection, *, collection_id: str, mirror: str, upstream_updated: str, upstream_digest: str
) -> None:
    await conn.execute(
        """INSERT INTO mirrored_collections (collection_id, mirror, upstream_updated, upstream_digest)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (collection_id) DO UPDATE SET upstream_updated = EXCLUDED.upstream_updated,
               upstream_digest = EXCLUDED.upstream_digest, synced_at = now()""",
        collection_id,
        mirror,
        upstream_updated,
        upstream_digest,
    )


async def delete_copy(conn: Conn, collection_id: str) -> None:
    """A copied collection goes with its items (the upstream's positions of the others stay as they are)."""
    await conn.execute("DELETE FROM collections WHERE id = $1", collection_id)


async def delete_copies(conn: asyncpg.Connection, mirror_name: str) -> int:
    """Every collection copied by a mirror (`mirror remove`); how many went."""
    deleted = await conn.fetch("DELETE FROM collections WHERE mirror = $1 RETURNING id", mirror_name)
    return len(deleted)
