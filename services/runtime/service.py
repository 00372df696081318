"""What a service declares, and how each of its processes is run.

A service has an HTTP API (`hubstream serve NAME`), an outbox relay with the
retention pruner of its tables (`hubstream relay NAME`) and, optionally,
worker processes that only consume (`hubstream worker NAME`). All of them
stop cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiohttp import web

from services.runtime import db, migrations
from services.runtime.auth import TokenExtractor, TokenResolver
from services.runtime.deps import ConsumerFactory, Deps
from services.runtime.errors import ErrorShape
from services.runtime.http import AccessLogger, create_base_app
from services.runtime.kafka import BrokerUnavailable, producer_context
from services.runtime.keys import API, MIGRATIONS, POOL, TOKEN_RESOLVER
from services.runtime.logging import init_logging
from services.runtime.openapi import Api
from services.runtime.outbox import Outbox, OutboxRelay
from services.runtime.resources import BackgroundTasks, consumers_ctx, database_ctx, producer_ctx
from services.runtime.retention import Pruner, RetentionPolicy
from services.runtime.settings import ServiceConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    """Everything the runtime needs to know to run one service's processes."""

    name: str
    package_dir: Path
    """Where the service's `migrations/` folder is."""
    error_shape: ErrorShape
    """The public API's error body."""
    token_extractor: TokenExtractor
    """How its clients send the token."""
    auth_required: bool
    """False where anonymous calls are allowed and views decide (the Hub API)."""
    token_resolver: Callable[[asyncpg.Pool], TokenResolver]
    setup_routes: Callable[[web.Application], None]
    """Adds the routes through `app[API]`, which documents each one (services/runtime/openapi.py)."""
    keeps_token_copy: bool
    """True for services that check tokens against their copy of the catalog's."""
    api_consumers: ConsumerFactory | None = None
    """Consumers run inside the API process (e.g. the token copy)."""
    worker_consumers: ConsumerFactory | None = None
    """Consumers run by `hubstream worker NAME`."""

    def migrations(self) -> list[migrations.Migration]:
        return migrations.service_migrations(self.package_dir, self.name, token_copy=self.keeps_token_copy)


def build_app(service: ServiceDefinition, config: ServiceConfig) -> web.Application:
    """The service's aiohttp app: runtime middlewares and ops routes, resources, consumers, routes."""
    app = create_base_app(
        config,
        error_shape=service.error_shape,
        token_extractor=service.token_extractor,
        auth_required=service.auth_required,
    )
    app[MIGRATIONS] = service.migrations()
    app.cleanup_ctx.append(database_ctx)

    async def resolver_ctx(app: web.Application) -> AsyncIterator[None]:
        app[TOKEN_RESOLVER] = service.token_resolver(app[POOL])
        yield

    app.cleanup_ctx.append(resolver_ctx)
    if service.api_consumers is not None:
        app.cleanup_ctx.append(producer_ctx)
        app.cleanup_ctx.append(consumers_ctx(service.api_consumers))
    app[API] = Api(
        app,
        title=f"hubstream {service.name}",
        error_shape=service.error_shape,
        token_extractor=service.token_extractor,
        token_default="required" if service.auth_required else "optional",
    )
    service.setup_routes(app)
    return app


async def frozen_heap_ctx(app: web.Application) -> AsyncIterator[None]:
    """Once the app has started, move every object that exists then out of the garbage collector's sight.

    What is alive after start-up (modules, the route table, schemas, pools: some 100,000 objects) lives as
    long as the process, yet every collection of the oldest generation walks all of it again, some tens of
    milliseconds each time. Streaming a large upload allocates enough short-lived objects (futures, frames,
    the pieces' lists) to trigger such collections again and again: about a tenth of the catalog's CPU time
    for each GB received went to them. Collections still run; they look at what was made after start-up."""
    gc.freeze()
    yield


def serve(service: ServiceDefinition) -> int:
    config = ServiceConfig.from_env(service.name)
    init_logging(config.infra.log_level, process=f"{service.name}-api")
    app = build_app(service, config)
    app.cleanup_ctx.append(frozen_heap_ctx)  # last: after the pool, producers and consumers exist
    try:
        web.run_app(
            app,
            host=config.http.host,
            port=config.http.port,
            access_log_class=AccessLogger,
            print=lambda _: log.info("%s API listening on %s", service.name, config.http.url),
            shutdown_timeout=10.0,
        )
    except (db.DatabaseUnavailable, BrokerUnavailable, migrations.MigrationError, OSError) as exc:
        log.critical("%s cannot start: %s", service.name, exc)
        return 1
    return 0


def run_relay(service: ServiceDefinition) -> int:
    config = ServiceConfig.from_env(service.name)
    init_logging(config.infra.log_level, process=f"{service.name}-relay")

    async def main(stopping: asyncio.Event) -> None:
        # No producer here: the relay starts its own, transactional one, once it holds the outbox's lock.
        async with migrations.migrated_pool(config.infra.database_url, config.schema, service.migrations()) as pool:
            relay = OutboxRelay(
                pool,
                config.infra.kafka,
                Outbox(schema=config.schema, source=config.event_source),
                topic_prefix=config.infra.topic_prefix,
            )
            pruner = Pruner(
                pool,
                config.schema,
                RetentionPolicy.from_settings(config.infra),
                batch=config.infra.retention_batch,
                interval=config.infra.retention_interval_seconds,
            )
            async with BackgroundTasks({f"{service.name}-relay": relay.run, f"{service.name}-retention": pruner.run}):
                await stopping.wait()

    return _run_until_signal(main, service.name)


def run_worker(service: ServiceDefinition) -> int:
    config = ServiceConfig.from_env(service.name)
    init_logging(config.infra.log_level, process=f"{service.name}-worker")
    if service.worker_consumers is None:
        log.critical("%s has no worker processes", service.name)
        return 2
    open_consumers = service.worker_consumers

    async def main(stopping: asyncio.Event) -> None:
        async with (
            worker_deps(service, config) as deps,
            open_consumers(deps) as consumers,
            BackgroundTasks({c.group: c.run for c in consumers}),
        ):
            await stopping.wait()

    return _run_until_signal(main, service.name)


@asynccontextmanager
async def worker_deps(service: ServiceDefinition, config: ServiceConfig) -> AsyncIterator[Deps]:
    """Pool, producer and outbox for a process without an HTTP app."""
    async with (
        migrations.migrated_pool(config.infra.database_url, config.schema, service.migrations()) as pool,
        producer_context(config.infra.kafka) as producer,
    ):
        yield Deps(config, pool, producer, Outbox(schema=config.schema, source=config.event_source))


def _run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]], name: str) -> int:
    async def runner() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await main(stopping)

    try:
        asyncio.run(runner())
    except (db.DatabaseUnavailable, BrokerUnavailable, migrations.MigrationError) as exc:
        log.critical("%s cannot start: %s", name, exc)
        return 1
    return 0
