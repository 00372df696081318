"""The real Humanloop SDK, of both generations, against a running versioning service.

The current release is in the dev extra. 0.8.29 (the last with `commit_message`) cannot share a venv
with it, so a session fixture installs it with `pip install --target` into .venv/sdk/ (once; later
runs reuse it) and the session runs in a subprocess with that directory first on its path.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.versioning.conftest import Versioning

SESSION = Path(__file__).with_name("sdk_session.py")
LEGACY = "0.8.29"
SDK_INSTALL_TIMEOUT = 300  # seconds; from PyPI (or pip's cache) on a slow link


@pytest.fixture(scope="session")
def legacy_sdk() -> Path:
    """0.8.29 and its dependencies in .venv/sdk/ (~40 MB, ~20 s once per venv; later runs reuse it).

    Installed into a scratch directory that is renamed into place only when pip succeeded, so an
    interrupted install is never taken for a finished one; wheels only, and bounded in time.
    """
    target = REPO / ".venv" / "sdk" / f"humanloop-{LEGACY}"
    if (target / "humanloop").is_dir():
        return target
    scratch = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-input",
             "--only-binary=:all:", "--target", str(scratch), f"humanloop=={LEGACY}", "requests"],
            check=True,
            timeout=SDK_INSTALL_TIMEOUT,
        )  # fmt: skip
        try:
            scratch.rename(target)
        except OSError:
            if not (target / "humanloop").is_dir():  # else another run installed it first: use theirs
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


async def run_session(versioning: Versioning, generation: str, pythonpath: Path | None) -> list[str]:
    env = {**os.environ, "OTEL_SDK_DISABLED": "true"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SESSION),
        versioning.base_url,
        versioning.token,
        generation,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode == 0, err.decode()[-3000:]
    return json.loads(out.decode().strip().splitlines()[-1])


async def test_the_current_sdk_with_named_versions(versioning: Versioning) -> None:
    calls = await run_session(versioning, "named", None)
    assert "update_dataset_version" in calls
    assert calls[-1] == "delete"


async def test_sdk_0_8_29_with_commits(versioning: Versioning, legacy_sdk: Path) -> None:
    calls = await run_session(versioning, "commit", legacy_sdk)
    assert "commit" in calls
    assert calls[-1] == "delete"
