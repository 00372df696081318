"""The catalog worker process (`hubstream worker catalog`): parquet conversions of datasets.

The consumer's handler is short and transactional (with the inbox): a dataset whose main branch moved gets
its new head recorded as the commit wanted (superseding any older one). `ConversionExecutor` does the
conversions themselves outside the poll loop, one job at a time, so a long conversion never keeps the
consumer from polling. A job holds a lease; a worker that dies leaves it to the next one once it runs out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.catalog import RepoCreated, RepoUpdated
from services.catalog import store_conversions
from services.catalog.convert_rows import Limits
from services.catalog.files_resources import blob_store
from services.catalog.files_settings import FileSettings
from services.catalog.parquet_conversion import ConversionDeps, convert
from services.runtime.consumer import Received
from services.runtime.deps import Background, Deps

log = logging.getLogger(__name__)

CONVERTER_GROUP = "catalog-parquet-converter"
MAIN = "refs/heads/main"


class ConversionSettings(BaseSettings):
    """Read once from `HUBSTREAM_CONVERT_*` variables."""

    model_config = SettingsConfigDict(env_prefix="HUBSTREAM_CONVERT_", frozen=True, extra="ignore")

    work_dir: Path | None = Field(
        default=None, description="Scratch space for sources and shards; default <HUBSTREAM_HOME>/convert."
    )
    max_shard_bytes: int = Field(default=256 * 1024 * 1024, description="A parquet shard is closed at this size.")
    block_bytes: int = Field(default=4 * 1024 * 1024, description="How much of a source file is parsed at a time.")
    max_json_document_bytes: int = Field(
        default=64 * 1024 * 1024, description="Largest `.json` file (not JSON Lines) parsed whole."
    )
    lease_seconds: float = Field(default=1800.0, description="How long a worker holds a job before others may.")
    max_attempts: int = Field(default=3, description="Attempts at a job that fails for reasons not in its data.")
    poll_seconds: float = Field(default=1.0, description="How often an idle worker looks for jobs.")

    def limits(self) -> Limits:
        return Limits(
            block_bytes=self.block_bytes,
            max_shard_bytes=self.max_shard_bytes,
            max_json_document_bytes=self.max_json_document_bytes,
        )


async def on_repo_changed(message: Received[RepoCreated | RepoUpdated], conn: asyncpg.Connection) -> None:
    """A dataset's main branch moved (or was born with files): its new head is the commit to convert."""
    event = message.data
    if event.repo_type != "dataset":
        return
    if isinstance(event, RepoUpdated) and not any(r.ref == MAIN and r.new_sha for r in event.updated_refs):
        return  # tags, PRs, other branches, and our own refs/convert/parquet commits
    namespace, name = event.repo_id.split("/", 1)
    # The head now, not the event's: if events ever came out of order, the newest commit still wins.
    repo = await store_conversions.main_head(conn, "dataset", namespace, name)
    if repo is None or repo["head"] is None:
        return  # deleted (or moved) since
    current = await store_conversions.lock_wanted(conn, repo["id"])
    if current != repo["head"]:
        await store_conversions.request(conn, repo["id"], repo["head"])


@dataclass
class ConversionExecutor:
    """Takes pending conversions one at a time, until the process stops."""

    deps: ConversionDeps
    settings: ConversionSettings
    group: str = "catalog-parquet-conversions"

    async def run(self, stopping: asyncio.Event) -> None:
        await asyncio.to_thread(self.deps.work_dir.mkdir, parents=True, exist_ok=True)
        while not stopping.is_set():
            if not await self.run_one():
                with suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=self.settings.poll_seconds)

    async def run_one(self) -> bool:
        """Claim and convert one pending dataset; False when there was none."""
        job = await store_conversions.claim(self.deps.pool, self.settings.lease_seconds)
        if job is None:
            return False
        repo_id, wanted = job["repo_id"], job["wanted_sha"]
        log.info("converting dataset %s at %s to parquet (attempt %d)", repo_id, wanted, job["attempts"])
        try:
            outcome = await convert(self.deps, repo_id, wanted)
        except asyncio.CancelledError:
            await store_conversions.release(self.deps.pool, repo_id, wanted)
            raise
        except Exception as exc:  # not the data's fault (those are recorded per split): retried, then given up
            log.exception("conversion of dataset %s at %s failed", repo_id, wanted)
            if job["attempts"] >= self.settings.max_attempts:
                error = f"the conversion failed {job['attempts']} times; last error: {exc}"
                await store_conversions.give_up(self.deps.pool, repo_id, wanted, error)
            else:
                await store_conversions.release(self.deps.pool, repo_id, wanted)
            return True
        if not outcome.superseded:
            log.info(
                "dataset %s at %s: %s; %d config/split(s) not converted",
                repo_id,
                wanted,
                f"refs/convert/parquet is {outcome.converted_sha}" if outcome.converted_sha else "nothing to commit",
                len(outcome.errors),
            )
        return True


@asynccontextmanager
async def worker_consumers(deps: Deps) -> AsyncIterator[list[Background]]:
    """The catalog worker's consumer of repo events, and the executor that converts."""
    settings = ConversionSettings()
    consumer = deps.consumer(CONVERTER_GROUP)
    consumer.on(RepoCreated, on_repo_changed)
    consumer.on(RepoUpdated, on_repo_changed)
    store = blob_store(FileSettings(), deps.config.infra.home)
    work_dir = settings.work_dir or Path(deps.config.infra.home) / "convert"
    executor = ConversionExecutor(ConversionDeps(deps.pool, deps.outbox, store, work_dir, settings.limits()), settings)
    yield [consumer, executor]
