"""`hubstream migrate [SERVICE ...]`: schemas and topics."""

from __future__ import annotations

import argparse
import asyncio

from services.cli.common import Commands, operator_infra
from services.registry import SERVICE_NAMES


def register(commands: Commands) -> None:
    commands.command("migrate", "apply schema migrations and create topics", _migrate).add_argument(
        "services", nargs="*", metavar="SERVICE", help=f"default: all ({', '.join(SERVICE_NAMES)})"
    )


def _migrate(args: argparse.Namespace) -> int:
    from services.operator import migrate_all

    unknown = sorted(set(args.services) - set(SERVICE_NAMES))
    if unknown:
        print(f"hubstream: unknown service(s) {', '.join(unknown)}; services are {', '.join(SERVICE_NAMES)}")
        return 2
    applied = asyncio.run(migrate_all(operator_infra(), args.services or SERVICE_NAMES))
    print(f"hubstream: schemas and topics are current ({applied} migration(s) applied)")
    return 0
