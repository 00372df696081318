"""The `hf` command line (installed with huggingface_hub): upload and download against the catalog."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.compat.conftest import Catalog


async def hf(catalog: Catalog, home: Path, *args: str) -> str:
    env = {
        **os.environ,
        "HF_ENDPOINT": catalog.url,
        "HF_TOKEN": catalog.admin_token,
        "HF_HOME": str(home),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "NO_COLOR": "1",
    }
    cli = Path(sys.executable).with_name("hf")
    process = await asyncio.create_subprocess_exec(
        str(cli), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    text = out.decode(errors="replace")
    assert process.returncode == 0, f"hf {' '.join(args)} failed:\n{text}"
    return text


async def test_hf_upload_then_download(catalog: Catalog, tmp_path: Path) -> None:
    home = tmp_path / "hf"
    folder = tmp_path / "data"
    (folder / "nested").mkdir(parents=True)
    files = {"train.csv": b"x,y\n1,2\n", "nested/blob.bin": os.urandom(123_457), "README.md": b"# cli\n"}
    for rel, data in files.items():
        (folder / rel).write_bytes(data)

    await hf(catalog, home, "upload", "admin/cli", str(folder), ".", "--repo-type", "dataset")
    await hf(
        catalog, home, "upload", "admin/cli", str(folder / "train.csv"), "copy/train.csv", "--repo-type", "dataset"
    )

    target = tmp_path / "down"
    await hf(catalog, home, "download", "admin/cli", "--repo-type", "dataset", "--local-dir", str(target))
    got = read_tree(target)
    assert got == {**files, "copy/train.csv": files["train.csv"], ".gitattributes": got[".gitattributes"]}

    single = await hf(catalog, home, "download", "admin/cli", "nested/blob.bin", "--repo-type", "dataset")
    path = single.strip().splitlines()[-1].strip().removeprefix("path:").strip()
    assert read_file(path) == files["nested/blob.bin"]


def read_tree(root: Path) -> dict[str, bytes]:
    found = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    return {k: v for k, v in found.items() if not k.startswith(".cache/")}


def read_file(path: str) -> bytes:
    return Path(path).read_bytes()
