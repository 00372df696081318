"""The faults, each done to the running stack as an operator's bad day would do it."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from bench.faults.stack import UpProcess


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    inject: Callable[[UpProcess], str]  # does it; returns what it did, in words


def _kill_broker(up: UpProcess) -> str:
    pid = up.kafka_pid()
    os.kill(pid, signal.SIGKILL)
    return f"SIGKILL to the Kafka broker (pid {pid})"


def _crash_postgres(up: UpProcess) -> str:
    pg = up.postgres()
    pg.crash()
    return f"pg_ctl stop -m immediate on {pg.data_dir} (no checkpoint: crash recovery at the next start)"


def _kill_relays_and_workers(up: UpProcess) -> str:
    pids = up.pids(suffixes=("-relay", "-worker"))
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    return "SIGKILL to " + ", ".join(f"{name} (pid {pid})" for name, pid in sorted(pids.items()))


FAULTS = {
    f.name: f
    for f in (
        Fault("broker", "Kafka broker SIGKILLed, the supervisor starts it again", _kill_broker),
        Fault("postgres", "PostgreSQL crash-stopped, the supervisor starts it again", _crash_postgres),
        Fault(
            "relays+workers", "every relay and worker SIGKILLed, the supervisor restarts them", _kill_relays_and_workers
        ),
    )
}
