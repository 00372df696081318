"""Settings of the versioning service's calls to the catalog, read once from `HUBSTREAM_VERSIONING_*` variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CatalogSettings(BaseSettings):
    """How versioning reaches the catalog's Hub API to publish versions and import files."""

    model_config = SettingsConfigDict(env_prefix="HUBSTREAM_VERSIONING_", frozen=True, extra="ignore")

    catalog_url: str | None = Field(
        default=None, description="The catalog's URL; default HUBSTREAM_CATALOG_URL (the shared infra setting)."
    )
    catalog_token: SecretStr | None = Field(
        default=None,
        description="The token versioning writes and reads catalog repos with (the stack's service account). "
        "Unset: publish and import answer 502 CatalogUnavailable and say so.",
    )
    catalog_timeout_seconds: float = Field(default=60.0, gt=0, description="Longest wait for one catalog call.")
    max_import_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0, description="Largest catalog file an import downloads."
    )
