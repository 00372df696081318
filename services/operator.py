"""Operator tasks shared by the `hubstream` command and the stack supervisor (deploy/stack.py).

Both need to bring the schemas and topics up to date and to make sure the `admin` user and its
token exist; keeping them here lets `deploy` and `services.cli` use them without importing each other.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import asyncpg

from services.registry import SERVICE_NAMES, definition
from services.runtime import db, migrations
from services.runtime.kafka import ensure_topics
from services.runtime.outbox import Outbox
from services.runtime.service_accounts import SERVICE_ACCOUNTS, ServiceAccount, read_token, save_token
from services.runtime.settings import InfraSettings


async def migrate_all(infra: InfraSettings, services: Sequence[str] = SERVICE_NAMES) -> int:
    """Create the topics and apply every pending migration; return how many were applied."""
    await db.check_available(infra.database_url)
    await ensure_topics(infra.kafka, prefix=infra.topic_prefix)
    applied = 0
    for name in services:
        service = definition(name)
        applied += len(await migrations.migrate(infra.database_url, name, service.migrations()))
    return applied


async def catalog_connection(infra: InfraSettings) -> tuple[asyncpg.Connection, Outbox]:
    """A connection to the catalog's schema (migrated) and its outbox: identity changes go through the catalog."""
    await migrations.migrate(infra.database_url, "catalog", definition("catalog").migrations())
    conn = await db.connect(infra.database_url, server_settings={"search_path": "catalog,public"})
    return conn, Outbox(schema="catalog", source="/hubstream/catalog")


async def ensure_admin(infra: InfraSettings, token: str | None) -> str:
    """Make sure the `admin` user exists with `token` (a new one if None); return the token."""
    from services.catalog import identity

    conn, outbox = await catalog_connection(infra)
    try:
        async with conn.transaction():
            await identity.create_user(conn, "admin", fullname="Administrator", admin=True)
            try:
                async with conn.transaction():
                    issued = await identity.issue_token(
                        conn, outbox, "admin", display_name="admin", role="admin", token=token
                    )
            except identity.RevokedToken:
                print("hubstream: the saved admin token was revoked; issuing a new one", file=sys.stderr)
                issued = await identity.issue_token(conn, outbox, "admin", display_name="admin", role="admin")
        return issued.token
    finally:
        await conn.close()


async def ensure_service_account(infra: InfraSettings, account: ServiceAccount) -> str:
    """Make sure the service account exists and its saved token (HUBSTREAM_HOME/service-tokens/) is active.

    The saved token is kept while it is valid; a revoked one is replaced by a new one, said on stderr.
    """
    from services.catalog import identity

    saved = read_token(infra.home, account)
    conn, outbox = await catalog_connection(infra)
    try:
        async with conn.transaction():
            await identity.create_service_account(conn, account.name, account.role)
            try:
                async with conn.transaction():
                    issued = await identity.issue_token(conn, outbox, account.name, display_name="service", token=saved)
            except identity.RevokedToken:
                print(
                    f"hubstream: the saved token of service account {account.name} was revoked; issuing a new one",
                    file=sys.stderr,
                )
                issued = await identity.issue_token(conn, outbox, account.name, display_name="service")
    finally:
        await conn.close()
    if issued.token != saved:
        save_token(infra.home, account, issued.token)
    return issued.token


async def ensure_service_accounts(infra: InfraSettings) -> list[str]:
    """Every service account the stack uses (SERVICE_ACCOUNTS), each with an active saved token."""
    return [await ensure_service_account(infra, account) for account in SERVICE_ACCOUNTS]
