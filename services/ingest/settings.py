"""Ingest's own settings, read once from `HUBSTREAM_INGEST_*` beside the shared infra settings."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.service_accounts import INGEST, read_token
from services.runtime.settings import InfraSettings


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUBSTREAM_INGEST_", frozen=True, extra="ignore")

    chunk_dir: Path | None = Field(
        default=None,
        description="Where the chunk indexes live (default: HUBSTREAM_HOME/chunks); shared by API and workers.",
    )
    catalog_token: str | None = Field(
        default=None,
        description="Token the workers send to the catalog instead of the service account's saved one "
        "(HUBSTREAM_HOME/service-tokens/hubstream-ingest, made by `hubstream up`).",
    )
    semantic: bool = Field(
        default=True,
        description="Embed completed indexes for hybrid search when the `semantic` extra is installed.",
    )
    sampling: bool = Field(default=True, description="Apply Nia's sampling rule to datasets of 200K rows or more.")
    run_lease_seconds: float = Field(
        default=30.0, gt=0, description="How long a dead worker's run waits before another worker resumes it."
    )

    @classmethod
    def from_infra(cls, infra: InfraSettings) -> IngestSettings:
        loaded = cls()
        if loaded.chunk_dir is None:
            loaded = loaded.model_copy(update={"chunk_dir": infra.home / "chunks"})
        return loaded


def service_token_source(settings: IngestSettings, home: Path) -> Callable[[], str | None]:
    """The worker's catalog token: the one set in the environment, else the service account's saved token,
    read at each call (a token `hubstream up` replaced is used without a restart)."""
    if settings.catalog_token is not None:
        given = settings.catalog_token
        return lambda: given
    return partial(read_token, home, INGEST)
