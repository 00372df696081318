"""The catalog's worker process (`hubstream worker catalog`): one module per job type, started together here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.catalog import conversion_worker, mirror_worker
from services.runtime.deps import Background, Deps


@asynccontextmanager
async def worker_consumers(deps: Deps) -> AsyncIterator[list[Background]]:
    """Parquet conversions of datasets (conversion_worker) and mirror syncs (mirror_worker)."""
    async with (
        conversion_worker.worker_consumers(deps) as conversions,
        mirror_worker.worker_consumers(deps) as mirrors,
    ):
        yield [*conversions, *mirrors]
