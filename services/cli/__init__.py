"""`hubstream`: the one command for operators and developers.

hubstream up | down | status                 the local stack
hubstream serve|relay|worker SERVICE         one process of a service
hubstream migrate [SERVICE ...]              schemas and topics
hubstream users create NAME [--token T] [--admin]
hubstream orgs create ORG --member NAME
hubstream tokens create USER | revoke TOKEN_ID | list USER
hubstream events tail|replay TOPIC
hubstream contracts export [--check]
hubstream ingest status [--watch] | cancel ID
hubstream papers add ID --title T --published DAY [--daily DAY ...] | remove ID
hubstream mirror add NAME URL [...] | sync NAME [--wait] | status [NAME] | remove NAME
hubstream versioning publish DATASET_ID --repo R | import --repo R --file F (--path P | --id ID)
hubstream bench events|ingest|faults|catalog|versioning [...]

Each command group is a module of this package with a `register(commands)` function; a new group
(say `mirror`) is a new module `services/cli/mirror.py` added to GROUPS below, nothing else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aiokafka.errors import KafkaError

from services.cli import (
    bench,
    contracts,
    events,
    ingest,
    migrate,
    mirror,
    orgs,
    papers,
    processes,
    stack,
    tokens,
    users,
    versioning,
)
from services.cli.common import Commands
from services.runtime import db, migrations
from services.runtime.kafka import BrokerUnavailable

# In the order `hubstream --help` lists them.
GROUPS = (stack, processes, migrate, users, orgs, tokens, events, ingest, versioning, mirror, papers, contracts, bench)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for group in GROUPS:
        # A group may take its whole command line before argparse sees it (`bench events --help`).
        intercept = getattr(group, "intercept", None)
        if intercept is not None and (code := intercept(argv)) is not None:
            return code
    parser = build_parser()
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubstream", description="A self-hosted, event-driven dataset hub.")
    commands = Commands(parser.add_subparsers(metavar="COMMAND"))
    for group in GROUPS:
        group.register(commands)
    return parser
