"""`hubstream`: the one command for operators and developers.

hubstream up | down | status                 the local stack
hubstream serve|relay|worker SERVICE         one process of a service
hubstream migrate [SERVICE ...]              schemas and topics
hubstream users create NAME [--token T] [--admin]
hubstream orgs create ORG --member NAME
hubstream tokens create USER | revoke TOKEN_ID | list USER
hubstream events tail TOPIC [--from-beginning] [--limit N]
hubstream contracts export [--check]
hubstream bench events [...]
hubstream bench versioning [...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import asyncpg
from aiokafka.errors import KafkaError

from services.registry import SERVICE_NAMES, definition
from services.runtime import db, migrations
from services.runtime.kafka import BrokerUnavailable, ensure_topics
from services.runtime.outbox import Outbox
from services.runtime.settings import InfraSettings


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["bench", "events"]:  # the benchmark parses its own options, --help included
        from bench import events

        return events.main(argv[2:])
    if argv[:2] == ["bench", "versioning"]:
        from bench import versioning

        return versioning.main(argv[2:])
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (db.DatabaseUnavailable, BrokerUnavailable, migrations.MigrationError) as exc:
        print(f"hubstream: {exc}", file=sys.stderr)
        return 1
    except KafkaError as exc:
        print(f"hubstream: Kafka did not answer: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubstream", description="A self-hosted, event-driven dataset hub.")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, help: str, run) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(run=run)
        return p

    command("up", "start the local stack (PostgreSQL, Kafka, the services) in the foreground", _up)
    command("down", "stop the local stack started by `up`", _down)
    command("status", "show what runs, with ports and pids", _status)
    for role, help in (
        ("serve", "run a service's HTTP API"),
        ("relay", "run a service's outbox relay"),
        ("worker", "run a service's worker consumers"),
    ):
        process = command(role, help, _run_process)
        process.add_argument("service", choices=SERVICE_NAMES)
        process.set_defaults(role=role)
    command("migrate", "apply schema migrations and create topics", _migrate).add_argument(
        "services", nargs="*", metavar="SERVICE", help=f"default: all ({', '.join(SERVICE_NAMES)})"
    )

    users = sub.add_parser("users", help="manage users").add_subparsers(metavar="ACTION", required=True)
    create_user = users.add_parser("create", help="create a user (and a token for it)")
    create_user.add_argument("name")
    create_user.add_argument("--token", help="register this token instead of generating one")
    create_user.add_argument("--admin", action="store_true")
    create_user.add_argument("--fullname", default="")
    create_user.add_argument("--email")
    create_user.set_defaults(run=_users_create)

    orgs = sub.add_parser("orgs", help="manage organizations").add_subparsers(metavar="ACTION", required=True)
    create_org = orgs.add_parser("create", help="create an organization")
    create_org.add_argument("name")
    create_org.add_argument("--member", action="append", default=[], help="user to add (repeatable)")
    create_org.add_argument("--role", default="admin", choices=["admin", "write", "read"])
    create_org.add_argument("--fullname", default="")
    create_org.set_defaults(run=_orgs_create)

    tokens = sub.add_parser("tokens", help="manage tokens").add_subparsers(metavar="ACTION", required=True)
    create_token = tokens.add_parser("create", help="create a token for a user")
    create_token.add_argument("user")
    create_token.add_argument("--name", default="cli", help="display name of the token")
    create_token.add_argument("--role", default="write", choices=["read", "write", "admin"])
    create_token.set_defaults(run=_tokens_create)
    revoke = tokens.add_parser("revoke", help="revoke a token (everywhere, within seconds)")
    revoke.add_argument("token_id")
    revoke.set_defaults(run=_tokens_revoke)
    list_tokens = tokens.add_parser("list", help="list a user's tokens")
    list_tokens.add_argument("user")
    list_tokens.set_defaults(run=_tokens_list)

    events = sub.add_parser("events", help="look at the event topics").add_subparsers(metavar="ACTION", required=True)
    tail = events.add_parser("tail", help="print events on a topic as they arrive")
    tail.add_argument("topic", help="e.g. hubstream.ingest.requests (or its .dlq)")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest event, not the newest")
    tail.add_argument("--limit", type=int, help="stop after this many events")
    tail.add_argument("--json", action="store_true", help="one JSON object per line instead of text")
    tail.set_defaults(run=_events_tail)
    replay = events.add_parser("replay", help="send a dead-letter topic's messages back to their topic")
    replay.add_argument("topic", help="e.g. hubstream.ingest.requests.dlq")
    replay.add_argument("--limit", type=int, help="replay at most this many")
    replay.set_defaults(run=_events_replay)

    contracts = sub.add_parser("contracts", help="event contracts").add_subparsers(metavar="ACTION", required=True)
    export = contracts.add_parser("export", help="write JSON Schema and AsyncAPI into contracts/schema/")
    export.add_argument("--check", action="store_true", help="only say whether the committed export is current")
    export.set_defaults(run=_contracts_export)

    bench = sub.add_parser("bench", help="benchmarks that print figures").add_subparsers(metavar="NAME", required=True)
    # Listed for --help only: `main` hands `bench events ...` to the benchmark, which parses its own options.
    bench.add_parser("events", help="outbox -> Kafka -> consumer vs raw aiokafka")
    bench.add_parser("versioning", help="version-after-delta, bulk upsert vs COPY, old-version page reads")
    return parser


# -- the stack -----------------------------------------------------------------------------------------


def _up(_: argparse.Namespace) -> int:
    from deploy import stack

    return stack.up()


def _down(_: argparse.Namespace) -> int:
    from deploy import stack

    return stack.down()


def _status(_: argparse.Namespace) -> int:
    from deploy import stack

    return stack.status()


def _run_process(args: argparse.Namespace) -> int:
    from services.runtime import service

    run = {"serve": service.serve, "relay": service.run_relay, "worker": service.run_worker}[args.role]
    return run(definition(args.service))


def _infra() -> InfraSettings:
    from deploy.stack import operator_settings

    return operator_settings()


async def migrate_all(infra: InfraSettings, services: Sequence[str] = SERVICE_NAMES) -> int:
    """Create the topics and apply every pending migration; return how many were applied."""
    await db.check_available(infra.database_url)
    await ensure_topics(infra.kafka, prefix=infra.topic_prefix)
    applied = 0
    for name in services:
        service = definition(name)
        applied += len(await migrations.migrate(infra.database_url, name, service.migrations()))
    return applied


def _migrate(args: argparse.Namespace) -> int:
    unknown = sorted(set(args.services) - set(SERVICE_NAMES))
    if unknown:
        print(f"hubstream: unknown service(s) {', '.join(unknown)}; services are {', '.join(SERVICE_NAMES)}")
        return 2
    applied = asyncio.run(migrate_all(_infra(), args.services or SERVICE_NAMES))
    print(f"hubstream: schemas and topics are current ({applied} migration(s) applied)")
    return 0


# -- identity (the catalog's data, changed as the catalog would) --------------------------------------


async def _catalog(infra: InfraSettings) -> tuple[asyncpg.Connection, Outbox]:
    await migrations.migrate(infra.database_url, "catalog", definition("catalog").migrations())
    conn = await db.connect(infra.database_url, server_settings={"search_path": "catalog,public"})
    return conn, Outbox(schema="catalog", source="/hubstream/catalog")


async def ensure_admin(infra: InfraSettings, token: str | None) -> str:
    """Make sure the `admin` user exists with `token` (a new one if None); return the token."""
    from services.catalog import identity

    conn, outbox = await _catalog(infra)
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


def _identity(action):  # type: ignore[no-untyped-def]
    """Run `action(conn, outbox, args)` in a catalog transaction, with operator-friendly errors."""
    from services.catalog.identity import IdentityError

    def run(args: argparse.Namespace) -> int:
        async def go() -> int:
            conn, outbox = await _catalog(_infra())
            try:
                async with conn.transaction():
                    return await action(conn, outbox, args)
            finally:
                await conn.close()

        try:
            return asyncio.run(go())
        except IdentityError as exc:
            print(f"hubstream: {exc}", file=sys.stderr)
            return 1

    return run


@_identity
async def _users_create(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import identity

    created = await identity.create_user(conn, args.name, fullname=args.fullname, email=args.email, admin=args.admin)
    issued = await identity.issue_token(conn, outbox, args.name, display_name="cli", token=args.token)
    print(f"user {args.name} {'created' if created else 'exists'}; token {issued.token} (id {issued.token_id})")
    return 0


@_identity
async def _orgs_create(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import identity

    created = await identity.create_org(conn, args.name, fullname=args.fullname)
    for member in args.member:
        await identity.add_member(conn, args.name, member, args.role)
    members = f" with {', '.join(args.member)} as {args.role}" if args.member else ""
    print(f"organization {args.name} {'created' if created else 'exists'}{members}")
    return 0


@_identity
async def _tokens_create(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import identity

    issued = await identity.issue_token(conn, outbox, args.user, display_name=args.name, role=args.role)
    print(f"token {issued.token} (id {issued.token_id}, {issued.role}) for {issued.user}")
    return 0


@_identity
async def _tokens_revoke(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import identity

    if not await identity.revoke_token(conn, outbox, args.token_id):
        print(f"hubstream: no active token with id {args.token_id}", file=sys.stderr)
        return 1
    print(f"token {args.token_id} revoked; the other services drop it as soon as they read the event")
    return 0


@_identity
async def _tokens_list(conn: asyncpg.Connection, outbox: Outbox, args: argparse.Namespace) -> int:
    from services.catalog import store

    for row in await store.tokens_of(conn, args.user):
        state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "active"
        created = f"{row['created_at']:%Y-%m-%d %H:%M}"
        print(f"{row['id']}  {row['role']:<6} {row['display_name']:<20} created {created}  {state}")
    return 0


# -- events, contracts, benchmarks ---------------------------------------------------------------------


def _events_tail(args: argparse.Namespace) -> int:
    from services.runtime.tail import tail

    return asyncio.run(
        tail(_infra(), args.topic, from_beginning=args.from_beginning, limit=args.limit, as_json=args.json)
    )


def _events_replay(args: argparse.Namespace) -> int:
    from services.runtime.replay import replay

    try:
        asyncio.run(replay(_infra(), args.topic, limit=args.limit))
    except (ValueError, KeyError) as exc:
        print(f"hubstream: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0


def _contracts_export(args: argparse.Namespace) -> int:
    from contracts import export

    if args.check:
        stale = export.stale(export.SCHEMA_DIR)
        for line in stale:
            print(line)
        if stale:
            print("hubstream: the export is stale; run `hubstream contracts export`", file=sys.stderr)
        return 1 if stale else 0
    for path in export.write(export.SCHEMA_DIR):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
