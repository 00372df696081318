"""`hubstream users`: users (the catalog's data, changed as the catalog would)."""

from __future__ import annotations

import argparse

import asyncpg

from services.cli.common import Commands, in_catalog_transaction
from services.runtime.outbox import Outbox


def register(commands: Commands) -> None:
    users = commands.group("users", "manage users")
    create = users.action("create", "create a user (and a token for it)", _create)
    create.add_argument("name")
    create.add_argument("--token", help="register this token instead of generating one")
    create.add_argument("--admin", action="store_true")
    create.add_argument("--fullname", default="")
    create.add_argument("--email")


@in_catalog_transaction
async def _create(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import identity

    created = await identity.create_user(conn, args.name, fullname=args.fullname, email=args.email, admin=args.admin)
    issued = await identity.issue_token(conn, outbox, args.name, display_name="cli", token=args.token)
    print(f"user {args.name} {'created' if created else 'exists'}; token {issued.token} (id {issued.token_id})")
    return 0
