"""Inbox: each event's effect happens once per consumer, however often it is delivered.

`claim` runs in the transaction that applies the effect. If the event was
handled before, it returns False and the caller does nothing; if the effect's
transaction rolls back, the claim rolls back with it and the event is retried.
"""

from __future__ import annotations

import asyncpg


async def claim(conn: asyncpg.Connection, consumer: str, source: str, event_id: str) -> bool:
    """Record that `consumer` handles this event now; False if it already did."""
    inserted = await conn.fetchval(
        "INSERT INTO inbox (consumer, source, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        source,
        event_id,
    )
    return bool(inserted)
