"""Retention: published outbox rows and old inbox entries are deleted in small batches, in the background.

Without it both tables grow with every event for good. The pruner runs in
each relay process (`hubstream relay NAME`), beside the relay; a transaction
advisory lock per schema lets one pruner work at a time when standbys run.

- Outbox: the relay moves a row to `outbox_published` when it has published
  it; the row goes from there once it has been published for
  `outbox_retention_seconds`. Unpublished rows never go. Takeover recovery reads only unpublished rows
  (it stops at the first record on a partition that is not pending), so
  deleting published ones takes nothing from it.
- Inbox: an entry goes once it is older than the longest time its consumer
  group's topic can redeliver an event (`Topic.redelivery_seconds`: retention
  plus one segment), or `inbox_retention_seconds` when set. Until then a
  redelivered event is still recognised and has no second effect.

Each batch deletes and counts in one statement; the counts (table `retention`)
and the tables' sizes are in the API's /metrics.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import asyncpg

from contracts.receivers import RECEIVERS
from services.runtime.settings import InfraSettings
from services.runtime.stopping import sleep_unless

log = logging.getLogger(__name__)


def _prune_statement(table: str, doomed: str) -> str:
    """One batch: delete the rows `doomed` selects (by ctid, at most $2 of them) and add how many to the count."""
    return f"""
WITH gone AS (
    DELETE FROM {table} WHERE ctid = ANY(ARRAY({doomed})) RETURNING 1
), counted AS (
    UPDATE retention SET pruned = pruned + (SELECT count(*) FROM gone), last_pruned_at = now()
    WHERE table_name = '{table}' AND EXISTS (SELECT FROM gone)
)
SELECT count(*) FROM gone
"""


# $1: the window in seconds; $2: the batch size.
PRUNE_OUTBOX = _prune_statement(
    "outbox_published",
    "SELECT ctid FROM outbox_published WHERE published_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2",
)
# $3: one consumer group, or NULL for every group.
PRUNE_INBOX = _prune_statement(
    "inbox",
    "SELECT ctid FROM inbox WHERE ($3::text IS NULL OR consumer = $3) "
    "AND handled_at < now() - make_interval(secs => $1) LIMIT $2",
)

TABLE_STATS = """
SELECT r.table_name, r.pruned, pg_total_relation_size(to_regclass(r.table_name)) AS bytes,
       greatest(c.reltuples, 0)::bigint AS estimated_rows
FROM retention r JOIN pg_class c ON c.oid = to_regclass(r.table_name)
"""


@dataclass(frozen=True)
class TableStats:
    table: str
    pruned: int
    bytes: int
    estimated_rows: int  # PostgreSQL's estimate (as of the last ANALYZE): a count(*) would read the whole table


async def table_stats(db: asyncpg.Pool | asyncpg.Connection) -> list[TableStats]:
    return [
        TableStats(r["table_name"], r["pruned"], r["bytes"], r["estimated_rows"]) for r in await db.fetch(TABLE_STATS)
    ]


@dataclass(frozen=True)
class RetentionPolicy:
    outbox_seconds: float
    inbox_by_group: dict[str, float] = field(default_factory=dict)
    """Window per consumer group; groups not listed fall under `inbox_others`."""
    inbox_others: float | None = None
    """Window for every group not listed; None keeps their entries."""

    @classmethod
    def from_settings(cls, infra: InfraSettings) -> RetentionPolicy:
        if infra.inbox_retention_seconds is not None:
            return cls(infra.outbox_retention_seconds, {}, infra.inbox_retention_seconds)
        windows = {r.group: r.topic.redelivery_seconds for r in RECEIVERS}
        return cls(infra.outbox_retention_seconds, {g: w for g, w in windows.items() if w is not None})


@dataclass
class Pruned:
    outbox: int = 0
    inbox: int = 0


class Pruner:
    def __init__(
        self, pool: asyncpg.Pool, schema: str, policy: RetentionPolicy, *, batch: int = 2000, interval: float = 30.0
    ) -> None:
        self._pool = pool
        self._schema = schema
        self._policy = policy
        self._batch = batch
        self._interval = interval

    @property
    def lock_name(self) -> str:
        return f"hubstream.retention.{self._schema}"

    async def prune_once(self, stopping: asyncio.Event | None = None) -> Pruned | None:
        """Delete everything past its window, batch by batch; None if another pruner of this schema is at work."""
        pruned = Pruned()
        policy = self._policy
        steps: list[tuple[str, str, tuple[object, ...]]] = [("outbox", PRUNE_OUTBOX, (policy.outbox_seconds,))]
        steps += [("inbox", PRUNE_INBOX, (window, group)) for group, window in policy.inbox_by_group.items()]
        if policy.inbox_others is not None:  # set by the override, which then lists no group of its own
            steps.append(("inbox", PRUNE_INBOX, (policy.inbox_others, None)))
        for table, sql, (window, *rest) in steps:
            while stopping is None or not stopping.is_set():
                async with self._pool.acquire() as conn, conn.transaction():
                    if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", self.lock_name):
                        return None
                    count = await conn.fetchval(sql, window, self._batch, *rest)
                setattr(pruned, table, getattr(pruned, table) + count)
                if count < self._batch:
                    break
        return pruned

    async def run(self, stopping: asyncio.Event) -> None:
        """Prune every `interval` until `stopping`; a database outage is logged and waited out."""
        while not stopping.is_set():
            try:
                pruned = await self.prune_once(stopping)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.error(
                    "retention %s: pruning failed (%s); trying again in %.0f s", self._schema, exc, self._interval
                )
            else:
                if pruned is not None and (pruned.outbox or pruned.inbox):
                    log.info(
                        "retention %s: deleted %d published outbox row(s) older than %.0f s and %d inbox entries",
                        self._schema,
                        pruned.outbox,
                        self._policy.outbox_seconds,
                        pruned.inbox,
                    )
            await sleep_unless(stopping, self._interval)
