"""Offset commits grouped in time: what a consumer has settled, committed at most every `interval`.

A commit is a broker round trip (~7 ms here), so committing after every poll would cost more than
handling a small batch. Anything settled but not yet committed when a process dies is delivered
again, and the inbox (or the handler's own state) absorbs it. EventConsumer commits this way, and
so does the benchmark's raw aiokafka baseline (bench/events/raw.py), so both pay the same.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from services.runtime.transport import RecordSource

log = logging.getLogger(__name__)

COMMIT_INTERVAL = 0.2  # seconds between offset commits while records keep coming


class GroupedCommits:
    """Offsets settled since the last commit, for one group member.

    A commit that falls due runs in the background while the member goes on handling records (one at
    a time, in order), so records that arrive meanwhile do not wait the commit's round trip; `flush`
    waits for it.
    """

    def __init__(self, source: RecordSource, group: str, *, interval: float = COMMIT_INTERVAL) -> None:
        self._source = source
        self._group = group
        self._interval = interval
        self._settled: dict[TopicPartition, OffsetAndMetadata] = {}
        self._last_commit = asyncio.get_running_loop().time()
        self._in_flight: asyncio.Task[None] | None = None

    def settle(self, tp: TopicPartition, offset: int) -> None:
        """The record at `offset` of `tp`, and every one before it, needs no delivery again."""
        self._settled[tp] = OffsetAndMetadata(offset + 1, "")

    async def after_poll(self, got_records: bool) -> None:
        """Start a commit if `interval` has passed since the last one, or at once when the poll came back
        empty (idle); raise what the previous commit raised, if it failed."""
        if self._in_flight is not None:
            if not self._in_flight.done():
                return  # the next poll tries again
            await self._done()
        loop = asyncio.get_running_loop()
        if self._settled and (not got_records or loop.time() - self._last_commit >= self._interval):
            offsets, self._settled = self._settled, {}
            self._in_flight = asyncio.create_task(self._commit(offsets))
            self._last_commit = loop.time()

    async def flush(self) -> None:
        """Wait for the commit in flight, then commit what is settled since (on stop)."""
        if self._in_flight is not None:
            await self._done()
        offsets, self._settled = self._settled, {}
        await self._commit(offsets)

    async def _done(self) -> None:
        task, self._in_flight = self._in_flight, None
        assert task is not None
        await task

    async def _commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        """Commit the offsets of the partitions this member still owns."""
        assignment = self._source.assignment()
        owned = {tp: meta for tp, meta in offsets.items() if tp in assignment}
        if not owned:
            return
        try:
            await self._source.commit(owned)
        except (CommitFailedError, IllegalStateError) as exc:
            # A rebalance moved partitions away meanwhile: their new owner reads from the last commit,
            # and the inbox absorbs what comes twice.
            log.info("consumer %s: offsets not committed after a rebalance (%s)", self._group, exc)
