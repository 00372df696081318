"""PostgreSQL access: one asyncpg pool per service, bound to the service's schema."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson

log = logging.getLogger(__name__)

# How long a request waits for a database connection before it is refused with 503 (never hangs).
ACQUIRE_TIMEOUT_SECONDS = 5.0


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached; the message says where and why."""


def redact(url: str) -> str:
    # Keep passwords out of logs and error messages.
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


async def connect(url: str, *, timeout: float = 5.0, **kwargs: object) -> asyncpg.Connection:
    """A connection, or `DatabaseUnavailable` saying where PostgreSQL was looked for and why it failed."""
    try:
        return await asyncpg.connect(url, timeout=timeout, **kwargs)  # type: ignore[arg-type]
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseUnavailable(
            f"PostgreSQL at {redact(url)} is not reachable ({exc}). "
            "Start the local stack with `hubstream up`, or set HUBSTREAM_DATABASE_URL."
        ) from exc


async def check_available(url: str, *, timeout: float = 5.0) -> None:
    """Raise `DatabaseUnavailable` unless a connection to `url` works now."""
    conn = await connect(url, timeout=timeout)
    await conn.close()


async def _init_connection(conn: asyncpg.Connection) -> None:
    # json/jsonb columns in and out as Python values, through orjson.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to send to the server.

    asyncpg's default sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every release,
    one round trip more for each unit of work (a fifth of a small write transaction's cost, measured by
    bench/events). Our units of work leave no session state behind: open transactions are still rolled back
    by asyncpg before this runs, and the two users of session state give it back themselves (the outbox
    relay unlocks its advisory lock or closes the connection; the ingest runner UNLISTENs).
    """


class BoundedPool(asyncpg.Pool):
    """An asyncpg pool whose every acquire is bounded in time.

    asyncpg waits for a free connection (or for a new one to connect) for as
    long as it takes unless each caller passes a timeout; with PostgreSQL gone
    or the pool exhausted, a request would then hang instead of being refused.
    Here every acquire, including the implicit one of `pool.fetch()` and
    friends, gives up after `acquire_timeout` seconds, and any failure to get
    a connection (refused, timed out, the server starting up or out of
    connection slots) is raised as `DatabaseUnavailable`.
    """

    def __init__(self, url: str, *, acquire_timeout: float, **kwargs: Any) -> None:
        # asyncpg.create_pool only fills in these defaults before calling Pool(...); it takes no pool class.
        kwargs.setdefault("max_queries", 50000)
        kwargs.setdefault("max_inactive_connection_lifetime", 300.0)
        kwargs.setdefault("connection_class", asyncpg.Connection)
        kwargs.setdefault("record_class", asyncpg.Record)
        super().__init__(url, loop=None, **kwargs)
        self.acquire_timeout = acquire_timeout
        self._where = redact(url)

    async def _acquire(self, timeout: float | None) -> Any:  # asyncpg's one path to a connection
        seconds = self.acquire_timeout if timeout is None else timeout
        try:
            return await super()._acquire(seconds)  # type: ignore[misc]
        except TimeoutError as exc:
            raise DatabaseUnavailable(
                f"no connection to PostgreSQL at {self._where} within {seconds:g} s (down, or every connection busy)"
            ) from exc
        except (OSError, asyncpg.PostgresError) as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {self._where}: {exc}") from exc


async def create_pool(
    url: str,
    schema: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    acquire_timeout: float = ACQUIRE_TIMEOUT_SECONDS,
) -> asyncpg.Pool:
    """A pool whose connections see the service's schema first (then `public`)."""
    await check_available(url)
    pool = BoundedPool(
        url,
        acquire_timeout=acquire_timeout,
        min_size=min_size,
        max_size=max_size,
        timeout=acquire_timeout,  # connecting, too, gives up in time
        server_settings={"search_path": f"{schema},public", "application_name": f"hubstream-{schema}"},
        init=_init_connection,
        reset=_keep_session,
    )
    await pool
    return pool


@asynccontextmanager
async def pool_context(url: str, schema: str, **kwargs: Any) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(url, schema, **kwargs)
    try:
        yield pool
    finally:
        await pool.close()
