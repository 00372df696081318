"""`hubstream contracts export [--check]`: the generated JSON Schema, AsyncAPI and OpenAPI documents."""

from __future__ import annotations

import argparse
import sys

from services.cli.common import Commands


def register(commands: Commands) -> None:
    contracts = commands.group("contracts", "event contracts")
    export = contracts.action(
        "export", "write JSON Schema, AsyncAPI and the OpenAPI documents into contracts/schema/", _export
    )
    export.add_argument("--check", action="store_true", help="only say whether the committed export is current")


def _export(args: argparse.Namespace) -> int:
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
