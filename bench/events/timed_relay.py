"""The runtime's relay, unchanged, with its steps timed; and where a hubstream event's time goes (Stages)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Collection
from typing import Any

from bench.events.report import percentile
from services.runtime.outbox import OutboxRelay, PendingRow


class TimedRelay(OutboxRelay):
    """Times the public steps of a relay cycle: fetch_pending, publish (with the acks), mark."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reset()

    def reset(self, target: int | None = None) -> None:
        self.cycles = 0
        self.rows = 0
        self.fetch_s = self.publish_s = self.mark_s = 0.0
        self.target = target  # `published` count at which the measured events are all out
        self.target_reached_at = math.nan
        self.first_fetch_at = math.nan  # the drain tells the relay's start-up (lock, LISTEN, recover) from this
        # By event id: when the relay read the row, and when the broker acknowledged it.
        self.fetched_at: dict[str, float] = {}
        self.acked_at: dict[str, float] = {}

    async def fetch_pending(self, limit: int | None = None, *, sent: Collection[int] = ()) -> list[PendingRow]:
        started = time.perf_counter()
        if math.isnan(self.first_fetch_at):
            self.first_fetch_at = started
        try:
            rows = await super().fetch_pending(limit, sent=sent)
        finally:
            self.fetch_s += time.perf_counter() - started
        now = time.perf_counter()
        for row in rows:
            self.fetched_at.setdefault(row.event_id, now)
        return rows

    async def wait_acked(self, rows: list[PendingRow], futures: list[asyncio.Future[Any]]) -> None:
        # Batches are in flight together: this is each batch's send-to-ack time, and they overlap.
        started = time.perf_counter()
        try:
            await super().wait_acked(rows, futures)
        finally:
            self.publish_s += time.perf_counter() - started
        now = time.perf_counter()
        for row in rows:
            self.acked_at.setdefault(row.event_id, now)

    async def mark(self, ids: list[int]) -> None:
        started = time.perf_counter()
        try:
            await super().mark(ids)
        finally:
            self.mark_s += time.perf_counter() - started

    async def relay_once(self) -> int:
        count = await super().relay_once()
        if count:
            self.cycles += 1
            self.rows += count
            if self.target is not None and self.published >= self.target and math.isnan(self.target_reached_at):
                self.target_reached_at = time.perf_counter()
        return count

    def summary(self, start: float, since: str) -> str:
        if not self.cycles:
            return "relay: no cycles"
        per = 1000 / self.cycles
        return (
            f"relay: {self.cycles} cycles, {self.rows / self.cycles:.1f} rows/cycle; per cycle fetch "
            f"{self.fetch_s * per:.1f} ms, publish+acks {self.publish_s * per:.1f} ms, "
            f"mark {self.mark_s * per:.1f} ms; all published {self.target_reached_at - start:.2f} s after {since}"
        )


class Stages:
    """Where a hubstream event's time goes: commit (or the drain's relay start) -> relay read it -> acked ->
    handler ran -> its inbox transaction committed."""

    def __init__(self) -> None:
        self.origin: float | None = None  # the drain's relay start: then the first stage is from there, not commit
        # Per event: committed (or origin), read by the relay, acknowledged by the broker, handler ran, inbox
        # transaction committed. Kept as they come and split when asked: this runs in the consumer's path,
        # and the path measured should not pay for the measuring.
        self._times: list[tuple[float, float, float, float, float]] = []

    def add(self, committed: float | None, relay: TimedRelay, event_id: str, ran: float, handled: float) -> None:
        if committed is None:
            return  # a warm-up event, or one whose commit is not recorded yet: not split
        fetched, acked = relay.fetched_at.get(event_id), relay.acked_at.get(event_id)
        if fetched is None or acked is None:
            return  # read before the counters were reset
        self._times.append((committed if self.origin is None else self.origin, fetched, acked, ran, handled))

    def _named(self) -> list[tuple[str, list[float]]]:
        # The waiting stage: commit (or origin) until the relay's SELECT returned the row; publishing: until the
        # broker acknowledged the relay's whole batch; then until the consumer ran the handler; then until the
        # consumer's inbox transaction committed.
        names = (
            "commit->relay read" if self.origin is None else "relay start->relay read",
            "read->acked",
            "acked->handler",
            "handler->inbox commit",
        )
        return [(name, [t[i + 1] - t[i] for t in self._times]) for i, name in enumerate(names)]

    def p99_ms(self) -> dict[str, float]:
        """Each stage's p99, by name, for the report's summary over rounds."""
        return {name: percentile(sorted(values), 0.99) * 1000 for name, values in self._named() if values}

    def summary(self) -> str:
        parts = []
        for name, values in self._named():
            ordered = sorted(values)
            if ordered:
                p50, p99, top = (percentile(ordered, q) * 1000 for q in (0.5, 0.99, 1.0))
                parts.append(f"{name} p50 {p50:.1f} / p99 {p99:.1f} / max {top:.1f} ms")
        return "latency split: " + "; ".join(parts) if parts else "latency split: no samples"
