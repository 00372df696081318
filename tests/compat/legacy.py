"""Running a script under the 0.2x line of `huggingface_hub` against a catalog.

That client cannot share the test environment with the current one, so scripts run in a subprocess with its
own folder first on the path: .venv/sdk/huggingface_hub-0.26.5, which `make setup` installs
(deploy/legacy_clients.py; the `legacy_hub` fixture in conftest.py installs it when missing, so these tests
never skip for want of it).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.catalog.conftest import Catalog


async def run_legacy_client(
    script: str, catalog: Catalog, legacy_hub: Path, tmp_path: os.PathLike[str], **env_vars: str
) -> dict[str, Any]:
    """Run `script` with the 0.2x client against `catalog` (the admin's token); the JSON its last line prints."""
    env = {
        **os.environ,
        "PYTHONPATH": str(legacy_hub),  # before .venv's own huggingface_hub
        "HF_ENDPOINT": catalog.url,
        "HF_TOKEN": catalog.admin_token,
        "HF_HOME": f"{tmp_path}/hf",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        **env_vars,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, err.decode(errors="replace")[-4000:]
    return json.loads(out.decode().strip().splitlines()[-1])
