"""Uploads and downloads with the unmodified `huggingface_hub` client: byte-identical round trips."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from huggingface_hub import (
    HfApi,
    hf_hub_download,
    snapshot_download,
)

from tests.compat.conftest import CLIENT_WARNINGS, Catalog

pytestmark = CLIENT_WARNINGS


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_upload_file_and_folder_then_download_byte_identical(catalog: Catalog, tmp_path: Path) -> None:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    folder = tmp_path / "up"
    (folder / "sub").mkdir(parents=True)
    files = {
        "README.md": b"---\nlicense: mit\n---\n# hello\n",
        "data.csv": b"a,b\n1,2\n3,4\n",
        "sub/weights.bin": os.urandom(300_000),  # LFS by the .gitattributes patterns
        "sub/notes.txt": "caf\u00e9 \u2603\n".encode(),
        "empty.txt": b"",
    }
    for rel, data in files.items():
        (folder / rel).write_bytes(data)

    def session() -> None:
        api.create_repo("files", repo_type="dataset")
        info = api.upload_folder(folder_path=folder, repo_id="admin/files", repo_type="dataset")
        assert re.fullmatch("[0-9a-f]{40}", info.oid)
        single = api.upload_file(
            path_or_fileobj=b"x" * 5000, path_in_repo="one/x.txt", repo_id="admin/files", repo_type="dataset"
        )
        expected = {".gitattributes", *files, "one/x.txt"}
        assert set(api.list_repo_files("admin/files", repo_type="dataset")) == expected

        for rel, data in files.items():
            got = hf_hub_download(
                "admin/files",
                rel,
                repo_type="dataset",
                endpoint=catalog.url,
                token=catalog.admin_token,
                cache_dir=tmp_path / "cache",
            )
            assert Path(got).read_bytes() == data, rel
        snap = snapshot_download(
            "admin/files",
            repo_type="dataset",
            endpoint=catalog.url,
            token=catalog.admin_token,
            local_dir=tmp_path / "snap",
        )
        got_tree = {k: v for k, v in _tree(Path(snap)).items() if not k.startswith(".cache/")}
        assert got_tree.keys() == expected
        assert all(got_tree[k] == v for k, v in files.items())
        assert api.dataset_info("admin/files").sha == single.oid

    await asyncio.to_thread(session)


async def test_gitignored_files_are_left_out_of_the_commit(catalog: Catalog, tmp_path: Path) -> None:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    folder = tmp_path / "up"
    (folder / "build").mkdir(parents=True)
    for rel, data in {
        ".gitignore": b"*.log\nbuild/\n!keep.log\n",
        "a.txt": b"a",
        "debug.log": b"noise",
        "keep.log": b"kept",
        "build/out.o": b"obj",
    }.items():
        (folder / rel).write_bytes(data)

    def session() -> None:
        api.create_repo("ignore")
        api.upload_folder(folder_path=folder, repo_id="admin/ignore")
        assert sorted(api.list_repo_files("admin/ignore")) == [".gitattributes", ".gitignore", "a.txt", "keep.log"]
        # The repo's .gitignore applies to later commits that do not bring one.
        api.upload_file(path_or_fileobj=b"x", path_in_repo="later.log", repo_id="admin/ignore")
        assert "later.log" not in api.list_repo_files("admin/ignore")

    await asyncio.to_thread(session)
