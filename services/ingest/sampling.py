"""Which rows a run indexes: Nia's rule, spread evenly over the whole split and the same every time.

Under 200K rows a dataset is indexed in full; from 200K to 2M rows up to 100K rows are indexed;
over 2M, up to 25K (Nia's documented thresholds, counted over the rows of the run: all splits of
the config). A sample takes every k-th row of each split (k = rows / wanted, as a real number), so
that it covers every shard and row group in proportion to its size, needs no random state, and
picks the same rows again on a retry or after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FULL_BELOW = 200_000
MEDIUM_UP_TO = 2_000_000
MEDIUM_SAMPLE = 100_000
LARGE_SAMPLE = 25_000

Strategy = Literal["full", "sampled"]


@dataclass(frozen=True)
class SamplePlan:
    strategy: Strategy
    total_rows: int
    wanted_rows: int

    def stride(self) -> float:
        return 1.0 if self.strategy == "full" else self.total_rows / self.wanted_rows


def plan(total_rows: int, *, sampling: bool = True) -> SamplePlan:
    if not sampling or total_rows < FULL_BELOW:
        return SamplePlan("full", total_rows, total_rows)
    wanted = MEDIUM_SAMPLE if total_rows <= MEDIUM_UP_TO else LARGE_SAMPLE
    return SamplePlan("sampled", total_rows, wanted)


def rows_in_range(plan: SamplePlan, start: int, stop: int) -> list[int] | None:
    """Offsets (from `start`) of the rows [start, stop) of a split that the run indexes; None for all.

    Each split is sampled on its own with the run's stride, so a split gets its share of the sample
    whatever its place in the run.
    """
    if plan.strategy == "full":
        return None
    stride = plan.stride()
    first = int(-(-start // stride))  # the first sample number k with k * stride >= start
    picked = []
    k = first
    while (row := int(k * stride)) < stop:
        if row >= start:
            picked.append(row - start)
        k += 1
    return picked
