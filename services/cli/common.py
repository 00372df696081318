"""What the command groups share: how a command is declared, where operator commands connect."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from services.runtime.outbox import Outbox
from services.runtime.settings import InfraSettings

Run = Callable[[argparse.Namespace], int]


@dataclass
class Commands:
    """The top level of `hubstream`: each group module adds its commands here."""

    sub: argparse._SubParsersAction  # type: ignore[type-arg]

    def command(self, name: str, help: str, run: Run) -> argparse.ArgumentParser:
        """A command without actions, e.g. `hubstream up`."""
        parser = self.sub.add_parser(name, help=help, description=help)
        parser.set_defaults(run=run)
        return parser

    def group(self, name: str, help: str, metavar: str = "ACTION") -> Actions:
        """A command with actions, e.g. `hubstream users create`."""
        return Actions(
            self.sub.add_parser(name, help=help, description=help).add_subparsers(metavar=metavar, required=True)
        )


@dataclass
class Actions:
    sub: argparse._SubParsersAction  # type: ignore[type-arg]

    def action(self, name: str, help: str, run: Run | None) -> argparse.ArgumentParser:
        parser = self.sub.add_parser(name, help=help, description=help)
        if run is not None:
            parser.set_defaults(run=run)
        return parser


def operator_infra() -> InfraSettings:
    """Where operator commands connect: the environment, else the stack `up` runs from this home."""
    from deploy.layout import operator_settings

    return operator_settings()


IdentityAction = Callable[[asyncpg.Connection, Outbox, argparse.Namespace], Awaitable[int]]


def in_catalog_transaction(action: IdentityAction) -> Run:
    """Run `action(conn, outbox, args)` in one catalog transaction, with identity errors said in words."""

    def run(args: argparse.Namespace) -> int:
        from services.catalog.identity import IdentityError
        from services.operator import catalog_connection

        async def go() -> int:
            conn, outbox = await catalog_connection(operator_infra())
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


def service_api(service: str, default_url: str) -> tuple[str, str]:
    """A service's API URL and the admin token, for the stack `up` runs from this home (or the environment:
    HUBSTREAM_ADMIN_TOKEN, HUBSTREAM_<SERVICE>_URL)."""
    import os

    from deploy.layout import Layout

    layout = Layout.from_env()
    token = os.environ.get("HUBSTREAM_ADMIN_TOKEN") or (
        layout.token_file.read_text().strip() if layout.token_file.exists() else ""
    )
    if not token:
        raise SystemExit("hubstream: no admin token: set HUBSTREAM_ADMIN_TOKEN or run `hubstream up` first")
    state = layout.read_state() or {}
    url = (state.get("processes", {}).get(f"{service}-api") or {}).get("url") or os.environ.get(
        f"HUBSTREAM_{service.upper()}_URL", default_url
    )
    return url.rstrip("/"), token
