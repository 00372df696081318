"""The 0.2x line of `huggingface_hub` (requests-based) against the catalog.

It cannot share the test environment with the current client, so it runs from a
Python of its own: `make legacy-client` makes one in .venv/hf0 (huggingface_hub 0.26.5);
HUBSTREAM_LEGACY_HF_PYTHON names another.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import Catalog

_MADE_BY_MAKE = Path(__file__).parents[2] / ".venv" / "hf0" / "bin" / "python"
LEGACY_PYTHON = os.environ.get("HUBSTREAM_LEGACY_HF_PYTHON") or (str(_MADE_BY_MAKE) if _MADE_BY_MAKE.exists() else None)

SCRIPT = r"""
import json, os, sys, tempfile
from pathlib import Path
from typing import Any
import huggingface_hub as hh
from huggingface_hub import HfApi, hf_hub_download, snapshot_download, CommitOperationAdd, CommitOperationDelete

api = HfApi()  # endpoint and token from HF_ENDPOINT / HF_TOKEN, as 0.2x needs for CommitInfo URLs
work = Path(tempfile.mkdtemp())
weights = os.urandom(150_000)
(work / "up" / "sub").mkdir(parents=True)
(work / "up" / "a.txt").write_bytes(b"hello")
(work / "up" / "sub" / "w.bin").write_bytes(weights)

api.create_repo("legacy", repo_type="dataset")
api.upload_folder(folder_path=work / "up", repo_id="admin/legacy", repo_type="dataset")
single = api.upload_file(path_or_fileobj=b"one", path_in_repo="one.txt", repo_id="admin/legacy", repo_type="dataset")
api.create_branch("admin/legacy", branch="dev", repo_type="dataset")
api.create_commit("admin/legacy", [CommitOperationDelete("one.txt")], commit_message="rm", repo_type="dataset",
                  revision="dev")
pr = api.create_commit("admin/legacy", [CommitOperationAdd("pr.txt", b"pr")], commit_message="pr",
                       repo_type="dataset", create_pr=True)
got = {
    "version": hh.__version__,
    "files": sorted(api.list_repo_files("admin/legacy", repo_type="dataset")),
    "dev_files": sorted(api.list_repo_files("admin/legacy", repo_type="dataset", revision="dev")),
    "tree": sorted(e.path for e in api.list_repo_tree("admin/legacy", repo_type="dataset", recursive=True)),
    "refs": sorted(b.name for b in api.list_repo_refs("admin/legacy", repo_type="dataset").branches),
    "titles": [c.title for c in api.list_repo_commits("admin/legacy", repo_type="dataset")],
    "sha_matches": api.dataset_info("admin/legacy").sha == single.oid,
    "pr": pr.pr_revision,
    "w_bin": Path(hf_hub_download("admin/legacy", "sub/w.bin", repo_type="dataset",
                                  cache_dir=work / "c")).read_bytes() == weights,
    "exists": [api.file_exists("admin/legacy", "a.txt", repo_type="dataset"),
               api.file_exists("admin/legacy", "nope.txt", repo_type="dataset")],
}
snap = Path(snapshot_download("admin/legacy", repo_type="dataset", cache_dir=work / "s"))
got["snapshot"] = sorted(p.relative_to(snap).as_posix() for p in snap.rglob("*") if p.is_file())
print(json.dumps(got))
"""


async def run_legacy_script(catalog: Catalog, script: str, tmp_path: os.PathLike[str]) -> dict[str, Any]:
    """Run `script` with the 0.2x Python as the catalog's admin; the JSON object its last line prints."""
    assert LEGACY_PYTHON is not None
    env = {
        **os.environ,
        "HF_ENDPOINT": catalog.url,
        "HF_TOKEN": catalog.admin_token,
        "HF_HOME": f"{tmp_path}/hf",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    process = await asyncio.create_subprocess_exec(
        LEGACY_PYTHON, "-c", script, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, err.decode(errors="replace")[-4000:]
    return json.loads(out.decode().strip().splitlines()[-1])


@pytest.mark.skipif(
    LEGACY_PYTHON is None, reason="set HUBSTREAM_LEGACY_HF_PYTHON to a Python with huggingface_hub 0.2x"
)
async def test_the_0_2x_client_uploads_lists_and_downloads(catalog: Catalog, tmp_path: os.PathLike[str]) -> None:
    got = await run_legacy_script(catalog, SCRIPT, tmp_path)
    assert got["version"].startswith("0.")
    assert got["files"] == [".gitattributes", "a.txt", "one.txt", "sub/w.bin"]
    assert got["dev_files"] == [".gitattributes", "a.txt", "sub/w.bin"]
    assert got["tree"] == [".gitattributes", "a.txt", "one.txt", "sub", "sub/w.bin"]
    assert got["refs"] == ["dev", "main"]
    assert got["titles"][0] == "Upload one.txt with huggingface_hub"
    assert got["sha_matches"]
    assert got["pr"] == "refs/pr/1"
    assert got["w_bin"]
    assert got["exists"] == [True, False]
    assert got["snapshot"] == [".gitattributes", "a.txt", "one.txt", "sub/w.bin"]
