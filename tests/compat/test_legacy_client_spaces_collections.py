"""The 0.2x line of `huggingface_hub` on spaces (its `duplicate_space`, removed in 2.0) and collections (it parses
them more strictly), from the Python `make legacy-client` makes (see test_legacy_client.py)."""

from __future__ import annotations

import os

import pytest

from tests.compat.conftest import Catalog
from tests.compat.test_legacy_client import LEGACY_PYTHON, run_legacy_script

SCRIPT = r"""
import json
import huggingface_hub as hh
from huggingface_hub import HfApi

api = HfApi()  # endpoint and token from HF_ENDPOINT / HF_TOKEN
api.create_repo("app", repo_type="space", space_sdk="gradio")
api.upload_file(path_or_fileobj=b"print('hi')\n", path_in_repo="app.py", repo_id="admin/app", repo_type="space")
api.add_space_variable("admin/app", "MODEL", "admin/m")
url = api.duplicate_space("admin/app", "admin/app-copy", private=False, hardware="t4-small", sleep_time=600,
                          secrets=[{"key": "TOKEN", "value": "x"}], variables=[{"key": "EXTRA", "value": "1"}])
runtime = api.get_space_runtime("admin/app-copy")
paused = api.pause_space("admin/app-copy")
restarted = api.restart_space("admin/app-copy")

api.create_repo("m")
collection = api.create_collection("Legacy picks")
api.add_collection_item(collection.slug, "admin/m", "model", note="my model")
api.add_collection_item(collection.slug, "admin/app", "space")
got = {
    "version": hh.__version__,
    "url": str(url),
    "files": sorted(api.list_repo_files("admin/app-copy", repo_type="space")),
    "variables": {k: v.value for k, v in api.get_space_variables("admin/app-copy").items()},
    "runtime": [runtime.stage, runtime.hardware, runtime.requested_hardware, runtime.sleep_time],
    "paused": [paused.stage, paused.hardware],
    "restarted": [restarted.stage, restarted.hardware],
    "items": [[i.item_id, i.item_type, i.position, i.note] for i in api.get_collection(collection.slug).items],
    "listed": [c.slug for c in api.list_collections(owner="admin")],
    "updated": api.update_collection_metadata(collection.slug, title="Renamed").title,
}
print(json.dumps(got))
"""


@pytest.mark.skipif(
    LEGACY_PYTHON is None, reason="set HUBSTREAM_LEGACY_HF_PYTHON to a Python with huggingface_hub 0.2x"
)
async def test_the_0_2x_client_duplicates_spaces_and_reads_collections(
    catalog: Catalog, tmp_path: os.PathLike[str]
) -> None:
    got = await run_legacy_script(catalog, SCRIPT, tmp_path)
    assert got["version"].startswith("0.")
    assert got["url"] == f"{catalog.url}/spaces/admin/app-copy"
    assert got["files"] == [".gitattributes", "app.py"]
    assert got["variables"] == {"MODEL": "admin/m", "EXTRA": "1"}
    assert got["runtime"] == ["RUNNING", "t4-small", "t4-small", 600]
    assert got["paused"] == ["PAUSED", None]
    assert got["restarted"] == ["RUNNING", "t4-small"]
    assert got["items"] == [["admin/m", "model", 0, "my model"], ["admin/app", "space", 1, None]]
    assert len(got["listed"]) == 1
    assert got["updated"] == "Renamed"
