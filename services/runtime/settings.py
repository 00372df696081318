"""Typed settings, read once from `HUBSTREAM_*` environment variables.

The defaults run the local stack (`hubstream up`). Each service composes
`InfraSettings` (shared by all) with an `HttpSettings` under its own prefix,
e.g. `HUBSTREAM_CATALOG_PORT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_PORTS: dict[str, int] = {"catalog": 8701, "ingest": 8702, "versioning": 8703}


class InfraSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUBSTREAM_", frozen=True, extra="ignore")

    home: Path = Field(default=Path(".hubstream"), description="Local state: pg/, kafka/, blobs/, logs/.")
    database_url: str = "postgresql://postgres@127.0.0.1:15432/hubstream"
    kafka: str = Field(default="127.0.0.1:19092", description="Kafka bootstrap servers, comma separated.")
    topic_prefix: str = Field(
        default="",
        description="Put before every topic name and consumer group id, so several deployments can share one broker.",
    )
    log_level: str = "INFO"
    outbox_retention_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Published outbox rows are deleted this long after they were published (unpublished rows never "
        "are). Takeover recovery needs only the unpublished ones; the window is for looking at what went out.",
    )
    inbox_retention_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Inbox entries are deleted this long after they were handled. Unset: as long as the consumer "
        "group's topic can redeliver an event (its retention plus one segment, from contracts/topics.py); entries of "
        "groups whose topic keeps events for good, and of groups hubstream does not know, are kept.",
    )
    retention_interval_seconds: float = Field(
        default=30.0, gt=0, description="Pause between two rounds of the retention pruner (in the relay process)."
    )
    retention_batch: int = Field(
        default=2000, gt=0, description="Rows the retention pruner deletes per statement, to keep each one short."
    )
    instance: str | None = Field(
        default=None,
        description="This process's lasting name in its consumer groups (Kafka static membership): restarted under "
        "the same name after a crash, it takes its partitions back at once instead of after its old session's 10 s. "
        "Unique per process among the deployments that share a broker; `hubstream up` sets one per process. Unset: "
        "dynamic members, which leave their groups when they stop.",
    )
    catalog_url: str = "http://127.0.0.1:8701"
    ingest_url: str = "http://127.0.0.1:8702"
    versioning_url: str = "http://127.0.0.1:8703"


class HttpSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 0
    public_url: str | None = Field(default=None, description="URL clients use; defaults to http://host:port.")

    @classmethod
    def for_service(cls, service: str) -> HttpSettings:
        prefix = f"HUBSTREAM_{service.upper()}_"
        loaded = cls(_env_prefix=prefix)  # type: ignore[call-arg]
        if loaded.port == 0:
            loaded = loaded.model_copy(update={"port": SERVICE_PORTS[service]})
        return loaded

    @property
    def url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class ServiceConfig:
    """What one service process needs: the shared infra plus its own HTTP binding."""

    service: str
    infra: InfraSettings
    http: HttpSettings

    @classmethod
    def from_env(cls, service: str) -> ServiceConfig:
        return cls(service=service, infra=InfraSettings(), http=HttpSettings.for_service(service))

    @property
    def schema(self) -> str:
        """Each service owns one PostgreSQL schema, named after it."""
        return self.service

    @property
    def event_source(self) -> str:
        """CloudEvents `source` of the events this service emits."""
        return f"/hubstream/{self.service}"
