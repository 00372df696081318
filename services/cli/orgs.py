"""`hubstream orgs`: organizations (the catalog's data, changed as the catalog would)."""

from __future__ import annotations

import argparse

import asyncpg

from services.cli.common import Commands, in_catalog_transaction
from services.runtime.outbox import Outbox


def register(commands: Commands) -> None:
    orgs = commands.group("orgs", "manage organizations")
    create = orgs.action("create", "create an organization", _create)
    create.add_argument("name")
    create.add_argument("--member", action="append", default=[], help="user to add (repeatable)")
    create.add_argument("--role", default="admin", choices=["admin", "write", "read"])
    create.add_argument("--fullname", default="")


@in_catalog_transaction
async def _create(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import identity

    created = await identity.create_org(conn, args.name, fullname=args.fullname)
    for member in args.member:
        await identity.add_member(conn, args.name, member, args.role)
    members = f" with {', '.join(args.member)} as {args.role}" if args.member else ""
    print(f"organization {args.name} {'created' if created else 'exists'}{members}")
    return 0
