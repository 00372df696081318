"""What a phase sends: bursts of events (a burst is one writing transaction), as fast as possible or paced."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    label: str  # in the table
    kind: str  # report.SATURATION, DRAIN or RATE
    slug: str  # for topic, group and schema names: each phase has its own, so nothing is left over from another
    bursts: tuple[int, ...]
    rate: float | None  # events/s; None: as fast as possible

    @property
    def total(self) -> int:
        return sum(self.bursts)

    def schedule(self) -> Iterator[tuple[float, int]]:
        """(seconds after the start, burst size); a burst is due when its first event is, at `rate`."""
        assert self.rate is not None
        before = 0
        for size in self.bursts:
            yield before / self.rate, size
            before += size


def make_plan(
    label: str, kind: str, slug: str, total: int, max_batch: int, rng: random.Random, rate: float | None
) -> Plan:
    bursts: list[int] = []
    left = total
    while left > 0:
        size = min(left, rng.randint(1, max_batch))
        bursts.append(size)
        left -= size
    return Plan(label, kind, slug, tuple(bursts), rate)


async def paced(plan: Plan) -> AsyncIterator[int]:
    """Yield burst sizes at their due times (a late burst goes at once: no catching up by skipping)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for due, size in plan.schedule():
        delay = start + due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        yield size


def random_uuid(rng: random.Random) -> uuid.UUID:
    """A UUID from the seeded generator, so keys (and so partitions) are the same from run to run."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)
