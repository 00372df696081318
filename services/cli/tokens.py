"""`hubstream tokens`: create, revoke and list tokens (the catalog's data, changed as the catalog would)."""

from __future__ import annotations

import argparse
import sys

import asyncpg

from services.cli.common import Commands, in_catalog_transaction
from services.runtime.outbox import Outbox


def register(commands: Commands) -> None:
    tokens = commands.group("tokens", "manage tokens")
    create = tokens.action("create", "create a token for a user", _create)
    create.add_argument("user")
    create.add_argument("--name", default="cli", help="display name of the token")
    create.add_argument("--role", default="write", choices=["read", "write", "admin"])
    tokens.action("revoke", "revoke a token (everywhere, within seconds)", _revoke).add_argument("token_id")
    tokens.action("list", "list a user's tokens", _list).add_argument("user")


@in_catalog_transaction
async def _create(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import identity

    issued = await identity.issue_token(conn, outbox, args.user, display_name=args.name, role=args.role)
    print(f"token {issued.token} (id {issued.token_id}, {issued.role}) for {issued.user}")
    return 0


@in_catalog_transaction
async def _revoke(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import identity

    if not await identity.revoke_token(conn, outbox, args.token_id):
        print(f"hubstream: no active token with id {args.token_id}", file=sys.stderr)
        return 1
    print(f"token {args.token_id} revoked; the other services drop it as soon as they read the event")
    return 0


@in_catalog_transaction
async def _list(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import store

    for row in await store.tokens_of(conn, args.user):
        state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "active"
        created = f"{row['created_at']:%Y-%m-%d %H:%M}"
        print(f"{row['id']}  {row['role']:<6} {row['display_name']:<20} created {created}  {state}")
    return 0
