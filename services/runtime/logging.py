"""One logging setup for every process: plain lines an operator can grep."""

from __future__ import annotations

import logging
import sys


def init_logging(level: str = "INFO", *, process: str = "hubstream") -> None:
    # force=True: heavy imports (aiokafka, asyncio debug) may attach a root handler before this runs.
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)-7s {process} %(name)s: %(message)s",
        force=True,
    )
    # aiokafka logs every coordinator hiccup at ERROR while a group forms; those are retried.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("aiokafka.consumer.group_coordinator").setLevel(logging.CRITICAL)
