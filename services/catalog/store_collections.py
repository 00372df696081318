"""The SQL of collections and their items."""

from __future__ import annotations

from typing import Any, Literal

import asyncpg

from services.catalog import store

Record = asyncpg.Record
Conn = asyncpg.Connection | asyncpg.Pool

# What a collection is shown with: its row and its owner's kind (user or org).
_COLLECTION = "SELECT c.*, a.kind AS owner_kind FROM collections c JOIN accounts a ON a.name = c.owner"


async def collection(conn: Conn, collection_id: str) -> Record | None:
    return await conn.fetchrow(f"{_COLLECTION} WHERE c.id = $1", collection_id)


async def lock_owner(conn: asyncpg.Connection, owner: str) -> None:
    """Serialise the changes to one owner's collections, until the transaction ends.

    A delete or a move renumbers all of the owner's collections, after locking the one it changes. Two such
    changes to two collections of one owner each held their own and waited for the other's: a deadlock,
    answered 500. Every change (a create, an update, a delete, an item's change, a mirror's copy) takes this
    lock first, before any collection row, so they queue instead."""
    await store.lock_name(conn, f"hubstream.collections:{owner}")


async def collection_for_update(conn: asyncpg.Connection, collection_id: str) -> Record | None:
    return await conn.fetchrow(f"{_COLLECTION} WHERE c.id = $1 FOR UPDATE OF c", collection_id)


async def collections_by_id(conn: Conn, ids: list[str]) -> list[Record]:
    """Collections named as items of others, with how many items each holds."""
    return await conn.fetch(
        """SELECT c.*, a.kind AS owner_kind,
                  (SELECT count(*) FROM collection_items i WHERE i.collection_id = c.id) AS number_items
           FROM collections c JOIN accounts a ON a.name = c.owner WHERE c.id = ANY($1::text[])""",
        ids,
    )


async def by_title(conn: Conn, owner: str, title: str) -> Record | None:
    return await conn.fetchrow("SELECT id, title, owner FROM collections WHERE owner = $1 AND title = $2", owner, title)


async def insert_collection(
    conn: asyncpg.Connection,
    *,
    collection_id: str,
    owner: str,
    title: str,
    description: str | None,
    private: bool,
    theme: str,
) -> bool:
    """False when the owner already has a collection of that title."""
    inserted = await conn.fetchval(
        """INSERT INTO collections (id, owner, title, description, private, theme, position)
           VALUES ($1, $2, $3, $4, $5, $6,
                   (SELECT count(*) FROM collections WHERE owner = $2))
           ON CONFLICT (owner, title) DO NOTHING RETURNING true""",
        collection_id,
        owner,
        title,
        description,
        private,
        theme,
    )
    return bool(inserted)


async def update_collection(conn: asyncpg.Connection, collection_id: str, changes: dict[str, Any]) -> bool:
    """Set the given columns (title, description, private, theme) and touch; False on a title already taken."""
    columns = [c for c in ("title", "description", "private", "theme") if c in changes]
    sets = "".join(f", {c} = ${i + 2}" for i, c in enumerate(columns))
    try:
        async with conn.transaction():  # a savepoint: the title's uniqueness may refuse it
            await conn.execute(
                f"UPDATE collections SET updated_at = now(){sets} WHERE id = $1",
                collection_id,
                *(changes[c] for c in columns),
            )
    except asyncpg.UniqueViolationError:
        return False
    return True


async def touch(conn: asyncpg.Connection, collection_id: str) -> None:
    await conn.execute("UPDATE collections SET updated_at = now() WHERE id = $1", collection_id)


async def owner_collection_ids(conn: asyncpg.Connection, owner: str) -> list[str]:
    """The owner's collections in their order, locked: a reordering renumbers them all."""
    rows = await conn.fetch("SELECT id FROM collections WHERE owner = $1 ORDER BY position, id FOR UPDATE", owner)
    return [r["id"] for r in rows]


async def _renumber(
    conn: asyncpg.Connection, table: Literal["collections", "collection_items"], ids: list[str]
) -> None:
    """Positions 0, 1, 2... in the order of `ids`."""
    await conn.execute(
        f"""UPDATE {table} t SET position = p.position - 1
            FROM unnest($1::text[]) WITH ORDINALITY AS p(id, position) WHERE t.id = p.id""",
        ids,
    )


async def set_collection_positions(conn: asyncpg.Connection, ids: list[str]) -> None:
    await _renumber(conn, "collections", ids)


async def delete_collection(conn: asyncpg.Connection, collection_id: str) -> None:
    owner = await conn.fetchval("DELETE FROM collections WHERE id = $1 RETURNING owner", collection_id)
    if owner is not None:
        await set_collection_positions(conn, await owner_collection_ids(conn, owner))


async def list_collections(
    conn: Conn,
    *,
    readable: tuple[str, ...],
    owners: list[str],
    item: tuple[str, str] | None,
    order: str,
    offset: int,
    limit: int,
) -> list[Record]:
    """Collections the caller may see (public, or owned by one of `readable`), one page plus one row."""
    where = ["(NOT c.private OR c.owner = ANY($1::text[]))"]
    args: list[Any] = [list(readable)]
    if owners:
        args.append(owners)
        where.append(f"c.owner = ANY(${len(args)}::text[])")
    if item is not None:
        args.extend(item)
        where.append(
            f"""EXISTS (SELECT 1 FROM collection_items i WHERE i.collection_id = c.id
                        AND i.item_type = ${len(args) - 1} AND i.item_key = ${len(args)})"""
        )
    args.extend([offset, limit + 1])
    return await conn.fetch(
        f"{_COLLECTION} WHERE {' AND '.join(where)} ORDER BY {order} OFFSET ${len(args) - 1} LIMIT ${len(args)}",
        *args,
    )


# -- items -----------------------------------------------------------------------------------------------------


async def items_of(conn: Conn, collection_ids: list[str], *, per_collection: int | None = None) -> list[Record]:
    """Items of these collections in their order (the first `per_collection` of each, if given)."""
    return await conn.fetch(
        """SELECT * FROM (SELECT i.*, row_number() OVER (PARTITION BY collection_id ORDER BY position, id) AS nth
                          FROM collection_items i WHERE collection_id = ANY($1::text[])) ranked
           WHERE $2::int IS NULL OR nth <= $2 ORDER BY collection_id, position, id""",
        collection_ids,
        per_collection,
    )


async def item(conn: asyncpg.Connection, collection_id: str, item_id: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM collection_items WHERE collection_id = $1 AND id = $2", collection_id, item_id
    )


async def insert_item(
    conn: asyncpg.Connection, *, item_id: str, collection_id: str, item_type: str, item_key: str, note: str | None
) -> bool:
    """Appended at the end; False when the collection already holds it."""
    inserted = await conn.fetchval(
        """INSERT INTO collection_items (id, collection_id, item_type, item_key, note, position)
           VALUES ($1, $2, $3, $4, $5, (SELECT count(*) FROM collection_items WHERE collection_id = $2))
           ON CONFLICT (collection_id, item_type, item_key) DO NOTHING RETURNING true""",
        item_id,
        collection_id,
        item_type,
        item_key,
        note,
    )
    return bool(inserted)


async def set_item_note(conn: asyncpg.Connection, item_id: str, note: str) -> None:
    await conn.execute("UPDATE collection_items SET note = $2 WHERE id = $1", item_id, note)


async def item_ids_in_order(conn: asyncpg.Connection, collection_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT id FROM collection_items WHERE collection_id = $1 ORDER BY position, id", collection_id
    )
    return [r["id"] for r in rows]


async def set_item_positions(conn: asyncpg.Connection, ids: list[str]) -> None:
    await _renumber(conn, "collection_items", ids)


async def delete_item(conn: asyncpg.Connection, item_id: str) -> None:
    await conn.execute("DELETE FROM collection_items WHERE id = $1", item_id)


# -- what items name -------------------------------------------------------------------------------------------


async def repos_by_id(conn: Conn, ids: list[str]) -> list[Record]:
    return await conn.fetch("SELECT * FROM repos WHERE id = ANY($1::text[])", ids)


async def papers_by_id(conn: Conn, ids: list[str]) -> list[Record]:
    return await conn.fetch("SELECT * FROM papers WHERE id = ANY($1::text[])", ids)


async def paper_exists(conn: Conn, paper_id: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM papers WHERE id = $1", paper_id))
