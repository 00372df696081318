"""Reading the end of a process's log, to quote it in an error."""

from __future__ import annotations

from pathlib import Path


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {path})"
