"""Older releases of the clients the compatibility tests drive beside the current ones.

An older release cannot share `.venv` with the current one (same import name), so each is installed with
`pip install --target` into a folder of its own under `.venv/sdk/`, and a test runs it in a subprocess of the
venv's Python with that folder first on `PYTHONPATH`. `make setup` installs them all (bootstrap.sh); a test's
fixture installs the one it needs if it is missing, so a checkout where setup ran before this list grew works too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTALL_TIMEOUT = 300  # seconds; from PyPI (or pip's cache) on a slow link


@dataclass(frozen=True)
class LegacyClient:
    package: str
    version: str
    extra: tuple[str, ...] = ()  # requirements the package leaves to its extras but the session needs
    module: str = ""  # its import name, when not the package's

    @property
    def folder(self) -> Path:
        return REPO / ".venv" / "sdk" / f"{self.package}-{self.version}"

    def installed(self) -> bool:
        return (self.folder / (self.module or self.package)).is_dir()


HUGGINGFACE_HUB = LegacyClient("huggingface_hub", "0.26.5")  # the 0.2x line: requests-based, before Xet
HUMANLOOP = LegacyClient("humanloop", "0.8.29", extra=("requests",))  # the last with commit_message
ALL = (HUGGINGFACE_HUB, HUMANLOOP)


def install(client: LegacyClient) -> Path:
    """`client` and its dependencies in its folder (once: later calls find it); the folder.

    Installed into a scratch folder that is renamed into place only when pip succeeded, so an interrupted install
    is never taken for a finished one; wheels only, bounded in time."""
    if client.installed():
        return client.folder
    scratch = client.folder.with_name(f"{client.folder.name}.partial-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-input",
             "--no-warn-conflicts",  # it does conflict with .venv's own packages: that is why it lives apart
             "--only-binary=:all:", "--target", str(scratch), f"{client.package}=={client.version}", *client.extra],
            check=True,
            timeout=INSTALL_TIMEOUT,
        )  # fmt: skip
        try:
            scratch.rename(client.folder)
        except OSError:
            if not client.installed():  # else another run installed it first: use theirs
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return client.folder


def install_all() -> None:
    for client in ALL:
        if not client.installed():
            print(f"bootstrap: installing {client.package} {client.version} into {client.folder.relative_to(REPO)}")
            install(client)
