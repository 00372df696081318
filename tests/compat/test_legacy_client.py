"""The 0.2x line of `huggingface_hub` (requests-based) against the catalog (see tests/compat/legacy.py)."""

from __future__ import annotations

import os
from pathlib import Path

from deploy import legacy_clients
from tests.compat.conftest import Catalog
from tests.compat.legacy import run_legacy_client

SCRIPT = r"""
import json, os, sys
from pathlib import Path
import huggingface_hub as hh
from huggingface_hub import (HfApi, HfFileSystem, hf_hub_download, snapshot_download, CommitOperationAdd,
                             CommitOperationCopy, CommitOperationDelete)
from huggingface_hub.utils import HfHubHTTPError, RepositoryNotFoundError

api = HfApi()  # endpoint and token from HF_ENDPOINT / HF_TOKEN, as 0.2x needs for CommitInfo URLs
work = Path(os.environ["LEGACY_WORK_DIR"])  # the test's tmp_path: removed with it
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

# Identity, repos and listing.
got["whoami"] = api.whoami()["name"]
again = api.create_repo("legacy", repo_type="dataset", exist_ok=True)
got["exist_ok"] = again.repo_id
try:
    api.create_repo("legacy", repo_type="dataset")
    got["duplicate"] = "created twice"
except HfHubHTTPError as exc:
    got["duplicate"] = exc.response.status_code
api.create_repo("legacy-model", private=True)
got["model_private"] = api.model_info("admin/legacy-model").private
api.update_repo_visibility("admin/legacy-model", private=False)
got["model_public"] = api.model_info("admin/legacy-model").private
got["exists"] += [api.repo_exists("admin/legacy", repo_type="dataset"), api.repo_exists("admin/none"),
                  api.revision_exists("admin/legacy", "dev", repo_type="dataset"),
                  api.revision_exists("admin/legacy", "nope", repo_type="dataset")]
got["datasets"] = [d.id for d in api.list_datasets(search="legacy", author="admin")]
got["models"] = [m.id for m in api.list_models(author="admin", limit=10)]

# Files: paths-info, copies, deletes, the parent-commit check, tags, HfFileSystem.
got["paths_info"] = sorted((e.path, getattr(e, "size", None))
                           for e in api.get_paths_info("admin/legacy", ["a.txt", "sub", "missing"],
                                                       repo_type="dataset"))
head = api.dataset_info("admin/legacy").sha
api.create_commit("admin/legacy", [CommitOperationCopy("sub/w.bin", "copy/w.bin")], commit_message="copy",
                  repo_type="dataset")
try:
    api.create_commit("admin/legacy", [CommitOperationAdd("late.txt", b"late")], commit_message="late",
                      repo_type="dataset", parent_commit=head)
    got["stale_parent"] = "committed"
except HfHubHTTPError as exc:
    got["stale_parent"] = exc.response.status_code
api.delete_file("one.txt", "admin/legacy", repo_type="dataset")
api.delete_folder("sub", "admin/legacy", repo_type="dataset")
api.create_tag("admin/legacy", tag="v1", repo_type="dataset")
refs = api.list_repo_refs("admin/legacy", repo_type="dataset")
got["tags"] = [t.name for t in refs.tags]
api.delete_tag("admin/legacy", tag="v1", repo_type="dataset")
api.delete_branch("admin/legacy", branch="dev", repo_type="dataset")
got["after_deletes"] = sorted(api.list_repo_files("admin/legacy", repo_type="dataset"))
got["refs_after"] = [b.name for b in api.list_repo_refs("admin/legacy", repo_type="dataset").branches]
got["refs_after"] += [t.name for t in api.list_repo_refs("admin/legacy", repo_type="dataset").tags]
fs = HfFileSystem()
got["fs_copy"] = fs.read_bytes("datasets/admin/legacy/copy/w.bin") == weights
with fs.open("datasets/admin/legacy/copy/w.bin", "rb") as f:
    f.seek(1000)
    got["fs_range"] = f.read(10) == weights[1000:1010]

# Move and delete.
api.move_repo("admin/legacy-model", "admin/legacy-moved")
got["moved"] = api.model_info("admin/legacy-moved").id
api.delete_repo("admin/legacy-moved")
try:
    api.model_info("admin/legacy-moved")
    got["deleted"] = False
except RepositoryNotFoundError:
    got["deleted"] = True
print(json.dumps(got))
"""


async def test_the_0_2x_client_through_repos_files_history_and_listing(
    catalog: Catalog, legacy_hub: Path, tmp_path: os.PathLike[str]
) -> None:
    got = await run_legacy_client(SCRIPT, catalog, legacy_hub, tmp_path, LEGACY_WORK_DIR=str(tmp_path))
    assert got["version"] == legacy_clients.HUGGINGFACE_HUB.version
    assert got["files"] == [".gitattributes", "a.txt", "one.txt", "sub/w.bin"]
    assert got["dev_files"] == [".gitattributes", "a.txt", "sub/w.bin"]
    assert got["tree"] == [".gitattributes", "a.txt", "one.txt", "sub", "sub/w.bin"]
    assert got["refs"] == ["dev", "main"]
    assert got["titles"][0] == "Upload one.txt with huggingface_hub"
    assert got["sha_matches"]
    assert got["pr"] == "refs/pr/1"
    assert got["w_bin"]
    assert got["exists"] == [True, False, True, False, True, False]
    assert got["snapshot"] == [".gitattributes", "a.txt", "one.txt", "sub/w.bin"]
    assert got["whoami"] == "admin"
    assert got["exist_ok"] == "admin/legacy"
    assert got["duplicate"] == 409
    assert got["model_private"] is True
    assert got["model_public"] is False
    assert got["datasets"] == ["admin/legacy"]
    assert got["models"] == ["admin/legacy-model"]
    assert got["paths_info"] == [["a.txt", 5], ["sub", None]]
    assert got["stale_parent"] == 412
    assert got["tags"] == ["v1"]
    assert got["after_deletes"] == [".gitattributes", "a.txt", "copy/w.bin"]  # pr.txt went to refs/pr/1
    assert got["refs_after"] == ["main"]
    assert got["fs_copy"]
    assert got["fs_range"]
    assert got["moved"] == "admin/legacy-moved"
    assert got["deleted"]
