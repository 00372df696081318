"""Test ports: two pytest runs (two allocators on one shared directory) are never handed the same port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ports import PortAllocator


def allocator(directory: Path, **kw: int) -> PortAllocator:
    # A range of its own, away from the real runs' blocks, so this test cannot take theirs.
    return PortAllocator(directory, first=kw.get("first", 32000 - 40), last=32000, block=kw.get("block", 10))


def test_two_runs_get_disjoint_ports_and_a_block_is_freed_when_its_run_ends(tmp_path: Path) -> None:
    first, second = allocator(tmp_path), allocator(tmp_path)
    try:
        a = [first.port() for _ in range(15)]  # more than a block: it takes a second one
        b = [second.port() for _ in range(15)]
        assert len(set(a)) == 15
        assert not set(a) & set(b)
        third = allocator(tmp_path)
        with pytest.raises(RuntimeError, match="every block of test ports"):
            third.port()  # all 4 blocks are held: 2 by the first run, 2 by the second
        first.close()
        assert third.port() in a  # the kernel dropped first's locks: its blocks are free again
    finally:
        for each in (first, second):
            each.close()


def test_a_block_held_by_another_process_is_skipped(tmp_path: Path) -> None:
    """flock, not a pid file: another process's lock holds for as long as that process lives."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from tests.ports import PortAllocator;"
            f"a = PortAllocator(Path({str(tmp_path)!r}), first=31960, last=32000, block=10);"
            "print(a.port(), flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None
        theirs = int(holder.stdout.readline())
        mine = allocator(tmp_path)
        assert mine.port() // 10 != theirs // 10
        mine.close()
    finally:
        holder.kill()
        holder.wait()


def test_a_port_something_listens_on_is_skipped(tmp_path: Path) -> None:
    ports = allocator(tmp_path)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 31960))
        listener.listen()
        try:
            assert ports.port() == 31961
        finally:
            ports.close()
