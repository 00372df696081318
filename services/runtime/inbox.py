"""Inbox: each event's effect happens once per consumer, however often it is delivered.

`claim` runs in the transaction that applies the effect. If the event was
handled before, it returns False and the caller does nothing; if the effect's
transaction rolls back, the claim rolls back with it and the event is retried.
"""

from __future__ import annotations

import asyncpg


async def claim(conn: asyncpg.Connection, consumer: str, source: str, event_id: str) -> bool:
    """Record that `consumer` handles this event now; False if it already did."""
    [fresh] = await claim_many(conn, consumer, [(source, event_id)])
    return fresh


async def claim_many(conn: asyncpg.Connection, consumer: str, events: list[tuple[str, str]]) -> list[bool]:
    """`claim` for a batch in one statement: for each (source, event id), in order, whether it is new.

    An event that appears twice in the batch is new only the first time.
    """
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, source, event_id) "
        "SELECT $1, source, event_id FROM unnest($2::text[], $3::text[]) AS batch(source, event_id) "
        "ON CONFLICT DO NOTHING RETURNING source, event_id",
        consumer,
        [source for source, _ in events],
        [event_id for _, event_id in events],
    )
    new = {(r["source"], r["event_id"]) for r in rows}
    fresh: list[bool] = []
    for event in events:
        fresh.append(event in new)
        new.discard(event)
    return fresh
