"""`hubstream up | down | status`: the local stack (deploy/stack.py)."""

from __future__ import annotations

import argparse

from services.cli.common import Commands


def register(commands: Commands) -> None:
    commands.command("up", "start the local stack (PostgreSQL, Kafka, the services) in the foreground", _up)
    commands.command("down", "stop the local stack started by `up`", _down)
    commands.command("status", "show what runs: ports, pids, readiness, restarts and last exits", _status)


def _up(_: argparse.Namespace) -> int:
    from deploy import stack

    return stack.up()


def _down(_: argparse.Namespace) -> int:
    from deploy import stack

    return stack.down()


def _status(_: argparse.Namespace) -> int:
    from deploy import stack

    return stack.status()
