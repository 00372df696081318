"""`hubstream events tail|replay`: look at the event topics, send dead letters back."""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.cli.common import Commands, operator_infra


def register(commands: Commands) -> None:
    events = commands.group("events", "look at the event topics")
    tail = events.action("tail", "print events on a topic as they arrive", _tail)
    tail.add_argument("topic", help="e.g. hubstream.ingest.requests (or its .dlq)")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest event, not the newest")
    tail.add_argument("--limit", type=int, help="stop after this many events")
    tail.add_argument("--json", action="store_true", help="one JSON object per line instead of text")
    replay = events.action("replay", "send a dead-letter topic's messages back to their topic", _replay)
    replay.add_argument("topic", help="e.g. hubstream.ingest.requests.dlq")
    replay.add_argument("--limit", type=int, help="replay at most this many")


def _tail(args: argparse.Namespace) -> int:
    from services.runtime.tail import tail

    return asyncio.run(
        tail(operator_infra(), args.topic, from_beginning=args.from_beginning, limit=args.limit, as_json=args.json)
    )


def _replay(args: argparse.Namespace) -> int:
    from services.runtime.replay import replay

    try:
        asyncio.run(replay(operator_infra(), args.topic, limit=args.limit))
    except (ValueError, KeyError) as exc:
        print(f"hubstream: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0
