"""PostgreSQL access: one asyncpg pool per service, bound to the service's schema."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson

log = logging.getLogger(__name__)


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


async def create_pool(url: str, schema: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections see the service's schema first (then `public`)."""
    await check_available(url)
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": f"{schema},public", "application_name": f"hubstream-{schema}"},
        init=_init_connection,
    )
    assert pool is not None
    return pool


@asynccontextmanager
async def pool_context(url: str, schema: str, **kwargs: int) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(url, schema, **kwargs)
    try:
        yield pool
    finally:
        await pool.close()
