"""The real Humanloop SDK, of both generations, against a running versioning service.

The current release is in the dev extra. 0.8.29 (the last with `commit_message`) cannot share a venv
with it, so it is installed with `pip install --target` into .venv/sdk/ (deploy/legacy_clients.py: by
`make setup`, else by a session fixture) and the session runs in a subprocess with that directory first on its path.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from deploy import legacy_clients
from tests.versioning.conftest import Versioning

SESSION = Path(__file__).with_name("sdk_session.py")


@pytest.fixture(scope="session")
def legacy_sdk() -> Path:
    """0.8.29 and its dependencies in .venv/sdk/ (~40 MB, ~20 s once per venv; `make setup` installs it)."""
    return legacy_clients.install(legacy_clients.HUMANLOOP)


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
