"""`hubstream serve|relay|worker SERVICE`: one process of a service."""

from __future__ import annotations

import argparse

from services.cli.common import Commands
from services.registry import SERVICE_NAMES, definition

ROLES = (
    ("serve", "run a service's HTTP API"),
    ("relay", "run a service's outbox relay"),
    ("worker", "run a service's worker consumers"),
)


def register(commands: Commands) -> None:
    for role, help in ROLES:
        process = commands.command(role, help, _run_process)
        process.add_argument("service", choices=SERVICE_NAMES)
        process.set_defaults(role=role)


def _run_process(args: argparse.Namespace) -> int:
    from services.runtime import service

    run = {"serve": service.serve, "relay": service.run_relay, "worker": service.run_worker}[args.role]
    return run(definition(args.service))
