"""A server that cannot bind its port: retried briefly, then explained.

A port can be taken for a moment by something that is not a server at all: the local end of an
outgoing connection takes a port from Linux's ephemeral range (32768-60999 by default, see
/proc/sys/net/ipv4/ip_local_port_range), which is why the stack's defaults lie below it. A start that
failed with "address already in use" is tried again for a few seconds before we give up, and the error
names the port and the variable that moves it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# PostgreSQL: `could not bind IPv4 address "127.0.0.1": Address already in use`;
# Kafka: `Socket server failed to bind to 127.0.0.1:19092: Address already in use.`
BIND_FAILURE = re.compile(r"address already in use", re.IGNORECASE)
KAFKA_BIND = re.compile(r"bind to [^\s:]+:(\d+)")


class PortInUse(RuntimeError):
    pass


def log_size(paths: tuple[Path, ...]) -> tuple[int, ...]:
    return tuple(p.stat().st_size if p.exists() else 0 for p in paths)


def written_since(paths: tuple[Path, ...], sizes: tuple[int, ...]) -> str:
    """What the server wrote to its logs after `sizes` were taken."""
    text = []
    for path, size in zip(paths, sizes, strict=True):
        try:
            with path.open("rb") as f:
                f.seek(size)
                text.append(f.read().decode(errors="replace"))
        except FileNotFoundError:
            continue
    return "\n".join(text)


def start_retrying_bind(
    start: Callable[[], T],
    *,
    failure: type[Exception],
    server: str,
    logs: tuple[Path, ...],
    ports: dict[int, str],
    seconds: float = 10.0,
    say: Callable[[str], None] = lambda _: None,
) -> T:
    """`start()`, again while it fails (raises `failure`) because a port is in use, for up to `seconds`.

    `ports` maps each port the server binds to the variable that changes it.
    """
    deadline = time.monotonic() + seconds
    while True:
        sizes = log_size(logs)
        try:
            return start()
        except failure as exc:
            written = written_since(logs, sizes)
            if not BIND_FAILURE.search(f"{written}\n{exc}"):
                raise
            port = _which_port(written, ports)
            if time.monotonic() >= deadline:
                raise PortInUse(
                    f"{server} could not bind 127.0.0.1:{port}: address already in use, for {seconds:.0f} s. "
                    f"Another process holds that port; set {ports[port]} to a free port "
                    "(below 32768, outside Linux's ephemeral port range)."
                ) from exc
            say(f"{server}: 127.0.0.1:{port} is in use (address already in use); trying again")
            time.sleep(1.0)


def _which_port(written: str, ports: dict[int, str]) -> int:
    for match in KAFKA_BIND.finditer(written):
        if int(match.group(1)) in ports:
            return int(match.group(1))
    return next(iter(ports))
