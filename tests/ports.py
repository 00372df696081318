"""Ports for test processes that no other test process on this machine is handed at the same time.

`bind(0)` then close, the old way, returns a port from Linux's ephemeral range that nothing holds now,
but anything may take seconds later: the next outgoing connection, or another pytest run picking the
same way, before our process binds it. Instead, each pytest run takes a block of ports of its own below
the ephemeral range (which outgoing connections never use) and hands them out one by one. A block is
taken by holding an exclusive `flock` on its file in a directory shared by every run on the machine
(several worktrees run pytest at once); the kernel drops the lock when the run ends, however it ends,
so no stale reservation outlives its run. A port in the block that something else listens on (a
developer's stack, say) is skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import tempfile
from pathlib import Path

# Below 32768, where Linux's default ephemeral range starts, and clear of the fixed ports servers on
# this machine restart on (the local stack's 15432/19092/19093, the shared dev servers' 25432/29092/29093):
# a test must not hold a port that such a server needs while it is down for a moment.
FIRST = 20000
LAST = 25000
BLOCK = 100


def shared_dir() -> Path:
    return Path(os.environ.get("HUBSTREAM_TEST_PORTS_DIR", Path(tempfile.gettempdir()) / "hubstream-test-ports"))


class PortAllocator:
    """Hands out ports from blocks this process holds the lock of; takes another block when one runs out."""

    def __init__(self, directory: Path | None = None, first: int = FIRST, last: int = LAST, block: int = BLOCK) -> None:
        self.directory = directory or shared_dir()
        self.first, self.last, self.block = first, last, block
        self._blocks: dict[int, int] = {}  # first port of a block held -> the locked file's descriptor
        self._next: int | None = None
        self._end = 0

    def _take_block(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):  # not ours: whoever made it opened it to all already
            self.directory.chmod(0o1777)  # every account's runs share it; each lock file stays its owner's
        for start in range(self.first, self.last - self.block + 1, self.block):
            if start in self._blocks:
                continue
            fd = os.open(self.directory / f"block-{start}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # another run holds it (BlockingIOError), or another account's file
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._blocks[start] = fd
            self._next, self._end = start, start + self.block
            return
        raise RuntimeError(f"every block of test ports in {self.first}-{self.last} is taken ({self.directory})")

    def port(self) -> int:
        """A port of this run's own, that nothing listens on right now."""
        while True:
            if self._next is None or self._next >= self._end:
                self._take_block()
            assert self._next is not None
            port, self._next = self._next, self._next + 1
            if _bindable(port):
                return port

    def close(self) -> None:
        for fd in self._blocks.values():
            os.close(fd)
        self._blocks.clear()
        self._next = None


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT leftovers are fine
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
