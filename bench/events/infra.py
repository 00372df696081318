"""The servers a run talks to, and what it creates on them; all on this machine, all removed at the end.

Without `--kafka` / `--database-url` a throw-away broker and PostgreSQL are started on 127.0.0.1 the way
tests/conftest.py does (deploy.broker / deploy.postgres). Either way the run gets its own database and
its own topic prefix (Target), both removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.running import say
from deploy import broker, postgres
from services.runtime.kafka import admin_context

log = logging.getLogger("bench.events")

T = TypeVar("T")


@dataclass
class Target:
    """Where one run's phases send: the broker, the run's own database, and its topic prefix."""

    bootstrap: str
    database_url: str
    prefix: str  # of this run's topics and groups
    topics: list[str] = field(default_factory=list)  # created by this run, deleted at the end


# -- only this machine: the benchmark saturates what it talks to, so never a shared server by mistake


def is_local_kafka(bootstrap: str) -> bool:
    """Whether every bootstrap server is on this machine."""
    return all(_is_loopback(_host_of(server)) for server in bootstrap.split(","))


def is_local_database(url: str) -> bool:
    return _is_loopback(urlsplit(url).hostname)


def _host_of(server: str) -> str:
    server = server.strip()
    if server.startswith("["):  # [::1]:9092
        return server[1 : server.index("]")]
    return server.rsplit(":", 1)[0] if server.count(":") == 1 else server


def _is_loopback(host: str | None) -> bool:
    if not host or host.startswith("/"):
        return True  # a Unix socket
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- throw-away servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking `fn` in a thread; if cancelled meanwhile, let it finish first, so nothing it starts is orphaned."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


@asynccontextmanager
async def throwaway_kafka() -> AsyncIterator[str]:
    home = Path(tempfile.mkdtemp(prefix="hubstream-bench-kafka-"))
    try:
        local = broker.LocalKafka(home=home, port=_free_port(), controller_port=_free_port())
        await _in_thread(local.format)  # the slow part of start(); start() then only spawns the process
        process = local.start(home / "stdout.log")
        try:
            # Not shielded: if we are cancelled, stopping the process below ends this wait too.
            await asyncio.to_thread(local.wait_ready, process)
            yield local.bootstrap
        finally:
            await _in_thread(broker.stop_process, process)
    finally:
        shutil.rmtree(home, ignore_errors=True)


@asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[str]:
    cluster = postgres.temporary(_free_port())
    try:
        await _in_thread(cluster.init)
        try:
            await _in_thread(cluster.start)
            yield cluster.url
        finally:
            await _in_thread(cluster.stop)
    finally:
        shutil.rmtree(cluster.data_dir.parent, ignore_errors=True)


@asynccontextmanager
async def infrastructure(args: argparse.Namespace) -> AsyncIterator[tuple[str, str]]:
    """(bootstrap, server URL): the ones given, or throw-away servers started side by side."""
    async with AsyncExitStack() as stack:
        wanted: list[contextlib.AbstractAsyncContextManager[str]] = []
        if not args.kafka:
            wanted.append(throwaway_kafka())
        if not args.database_url:
            wanted.append(throwaway_postgres())
        if wanted:
            say(f"starting {len(wanted)} throw-away server(s) on 127.0.0.1")
        # Each context manager cleans up after itself if its start fails; the stack stops those that started.
        started = await asyncio.gather(*(stack.enter_async_context(cm) for cm in wanted), return_exceptions=True)
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        values = iter(started)
        bootstrap = args.kafka or next(values)
        server_url = args.database_url or next(values)
        yield str(bootstrap), str(server_url)


# -- what a run creates on them


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the server of `server_url`, dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def run_target(bootstrap: str, database_url: str) -> AsyncIterator[Target]:
    """A Target with a fresh topic prefix; the topics that phases record in it are deleted afterwards."""
    target = Target(bootstrap, database_url, prefix=f"bench{uuid.uuid4().hex[:10]}.")
    try:
        yield target
    finally:
        await delete_topics(bootstrap, target.topics)


async def delete_topics(bootstrap: str, topics: list[str]) -> None:
    if not topics:
        return
    try:
        async with asyncio.timeout(30), admin_context(bootstrap) as admin:
            await admin.delete_topics(topics)
    except Exception as exc:
        log.warning("could not delete the benchmark's topics %s: %s", ", ".join(topics), exc)
