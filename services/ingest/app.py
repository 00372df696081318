"""The ingest service: its definition, and `create_app()` for the HTTP process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from aiohttp import web

from contracts.catalog import RepoCreated, RepoDeleted, RepoUpdated
from services.ingest import repo_events
from services.ingest.chunk_store import TantivyStore
from services.ingest.routes import setup_routes
from services.ingest.settings import IngestSettings
from services.ingest.worker import worker_consumers
from services.runtime.auth import bearer_token, token_copy_consumer, token_copy_resolver
from services.runtime.consumer import EventConsumer
from services.runtime.deps import Deps
from services.runtime.errors import detail_shape
from services.runtime.service import ServiceDefinition, build_app
from services.runtime.settings import ServiceConfig

NAME = "ingest"


def create_app() -> web.Application:
    return create_app_with_config(ServiceConfig.from_env(NAME))


def create_app_with_config(config: ServiceConfig) -> web.Application:
    return build_app(DEFINITION, config)


@asynccontextmanager
async def api_consumers(deps: Deps) -> AsyncIterator[list[EventConsumer]]:
    repos = deps.consumer("ingest-repos")
    repos.on(RepoCreated, partial(repo_events.on_repo_created, outbox=deps.outbox))
    repos.on(RepoUpdated, partial(repo_events.on_repo_updated, outbox=deps.outbox))
    chunks = TantivyStore(IngestSettings.from_infra(deps.config.infra).chunk_dir)
    repos.on(RepoDeleted, partial(repo_events.on_repo_deleted, chunks=chunks))
    yield [token_copy_consumer(deps), repos]


DEFINITION = ServiceDefinition(
    name=NAME,
    package_dir=Path(__file__).parent,
    error_shape=detail_shape,  # Nia: {"detail": ...}
    token_extractor=bearer_token,
    auth_required=True,
    token_resolver=token_copy_resolver,
    setup_routes=setup_routes,
    keeps_token_copy=True,
    api_consumers=api_consumers,
    worker_consumers=worker_consumers,
)
