"""Plain SQL migrations, applied in order and recorded in the service's schema.

A service's migrations are the runtime's own files (outbox and inbox, and the
token copy for services that keep one) followed by the service's `migrations/NNN_name.sql`. Each file runs in its own
transaction; an advisory lock keeps two processes from migrating at once.
A file that changed after it was applied is an error, not a silent skip.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.runtime import db

log = logging.getLogger(__name__)

RUNTIME_SQL = Path(__file__).with_name("sql")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    name: str  # e.g. "runtime/001_outbox.sql"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load(directory: Path, prefix: str) -> list[Migration]:
    files = sorted(p for p in directory.glob("*.sql") if p.is_file())
    return [Migration(name=f"{prefix}/{p.name}", sql=p.read_text()) for p in files]


def service_migrations(service_dir: Path, service: str, *, token_copy: bool) -> list[Migration]:
    """The runtime's core tables, the token copy where the service keeps one, then the service's own."""
    runtime = load(RUNTIME_SQL / "core", "runtime")
    if token_copy:
        runtime += load(RUNTIME_SQL / "token_copy", "runtime.token_copy")
    return runtime + load(service_dir / "migrations", service)


async def pending(conn: asyncpg.Connection, schema: str, migrations: list[Migration]) -> list[Migration]:
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.schema_migrations")
    if not exists:
        return list(migrations)
    applied = {
        r["name"]: r["checksum"] for r in await conn.fetch(f'SELECT name, checksum FROM "{schema}".schema_migrations')
    }
    for m in migrations:
        if m.name in applied and applied[m.name] != m.checksum:
            raise MigrationError(
                f"migration {m.name} was changed after it was applied to schema {schema!r}; "
                "add a new migration file instead of editing an applied one"
            )
    return [m for m in migrations if m.name not in applied]


async def migrate(url: str, schema: str, migrations: list[Migration]) -> list[str]:
    """Apply what is pending; return the names applied."""
    conn = await db.connect(url, server_settings={"search_path": f"{schema},public"})
    try:
        # Serialise migrators of this schema across processes.
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"hubstream.migrate.{schema}")
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations (
                        name text PRIMARY KEY,
                        checksum text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done: list[str] = []
            for m in await pending(conn, schema, migrations):
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        f'INSERT INTO "{schema}".schema_migrations (name, checksum) VALUES ($1, $2)',
                        m.name,
                        m.checksum,
                    )
                log.info("applied migration %s to schema %s", m.name, schema)
                done.append(m.name)
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"hubstream.migrate.{schema}")
    finally:
        await conn.close()


async def is_current(conn: asyncpg.Connection, schema: str, migrations: list[Migration]) -> bool:
    return not await pending(conn, schema, migrations)


@asynccontextmanager
async def migrated_pool(url: str, schema: str, wanted: list[Migration]) -> AsyncIterator[asyncpg.Pool]:
    """The schema brought up to date, then a pool on it: how every service process starts."""
    applied = await migrate(url, schema, wanted)
    if applied:
        log.info("schema %s: applied %s", schema, ", ".join(applied))
    async with db.pool_context(url, schema) as pool:
        yield pool
