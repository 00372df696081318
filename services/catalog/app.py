"""The catalog service: its definition, and `create_app()` for the HTTP process."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.catalog.identity import catalog_token_resolver
from services.catalog.routes import setup_routes
from services.catalog.worker import worker_consumers
from services.runtime.auth import bearer_token
from services.runtime.errors import hub_shape
from services.runtime.service import ServiceDefinition, build_app
from services.runtime.settings import ServiceConfig

NAME = "catalog"


def create_app() -> web.Application:
    return create_app_with_config(ServiceConfig.from_env(NAME))


def create_app_with_config(config: ServiceConfig) -> web.Application:
    return build_app(DEFINITION, config)


DEFINITION = ServiceDefinition(
    name=NAME,
    package_dir=Path(__file__).parent,
    error_shape=hub_shape,  # {"error": ...} + X-Error-Code
    token_extractor=bearer_token,
    # Hub clients read anonymously; views that need a user call require_principal.
    auth_required=False,
    # The catalog owns the tokens: it answers from its own table, so changes apply at once.
    token_resolver=catalog_token_resolver,
    setup_routes=setup_routes,
    keeps_token_copy=False,
    # `hubstream worker catalog`: parquet conversions and mirror syncs (services/catalog/worker.py).
    worker_consumers=worker_consumers,
)
