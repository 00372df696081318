"""The versioning service: its definition, and `create_app()` for the HTTP process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from contracts.catalog import RepoCreated, RepoDeleted
from services.runtime.auth import api_key_token, token_copy_consumer, token_copy_resolver
from services.runtime.consumer import EventConsumer
from services.runtime.deps import Deps
from services.runtime.errors import detail_shape
from services.runtime.service import ServiceDefinition, build_app
from services.runtime.settings import ServiceConfig
from services.versioning import repo_events
from services.versioning.deltas import worker_consumers
from services.versioning.routes import setup_routes

NAME = "versioning"


def create_app() -> web.Application:
    return create_app_with_config(ServiceConfig.from_env(NAME))


def create_app_with_config(config: ServiceConfig) -> web.Application:
    return build_app(DEFINITION, config)


@asynccontextmanager
async def api_consumers(deps: Deps) -> AsyncIterator[list[EventConsumer]]:
    repos = deps.consumer("versioning-repos")
    repos.on(RepoCreated, repo_events.on_repo_created)
    repos.on(RepoDeleted, repo_events.on_repo_deleted)
    yield [token_copy_consumer(deps), repos]


DEFINITION = ServiceDefinition(
    name=NAME,
    package_dir=Path(__file__).parent,
    error_shape=detail_shape,  # Humanloop (FastAPI): {"detail": ...}, 422 with a list for validation
    token_extractor=api_key_token,  # X-API-KEY, as the Humanloop SDK sends it
    auth_required=True,
    token_resolver=token_copy_resolver,
    setup_routes=setup_routes,
    keeps_token_copy=True,
    api_consumers=api_consumers,
    worker_consumers=worker_consumers,  # `hubstream worker versioning`: deltas from Kafka
)
