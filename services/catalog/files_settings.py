"""Settings of the catalog's file storage, read once from `HUBSTREAM_CATALOG_*` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FileSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUBSTREAM_CATALOG_", frozen=True, extra="ignore")

    blob_dir: Path | None = Field(default=None, description="Where file contents live; default <HUBSTREAM_HOME>/blobs.")
    max_commit_line_bytes: int = Field(
        default=32 * 1024 * 1024,
        description="Longest NDJSON line a commit may send (an inline file, base64): larger files go through LFS.",
    )
    lfs_threshold_bytes: int = Field(default=10 * 1024 * 1024, description="Files this large are uploaded via LFS.")
    upload_url_ttl_seconds: int = Field(default=3600, description="How long a signed LFS upload URL stays valid.")
