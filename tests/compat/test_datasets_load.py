"""Datasets for readers: `datasets.load_dataset` (in a process of its own: it reads HF_ENDPOINT when
imported) and the parquet listing endpoints."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from typing import Any

import aiohttp
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from multidict import CIMultiDict

from tests.compat.conftest import CLIENT_WARNINGS, Catalog

pytestmark = CLIENT_WARNINGS

SCRIPT = """
import json, sys
from datasets import load_dataset
loaded = {mode: load_dataset(sys.argv[1], streaming=mode == "streaming") for mode in ("download", "streaming")}
print(json.dumps({mode: {s: [dict(r) for r in ds[s]] for s in ds} for mode, ds in loaded.items()}, default=str))
"""

ROWS = {"train": [{"text": "a", "label": 0}, {"text": "b", "label": 1}], "test": [{"text": "c", "label": 1}]}


def parquet_bytes(rows: list[dict[str, object]]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[dict[str, object]]) -> bytes:
    return ("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows)).encode()


def jsonl_bytes(rows: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


FORMATS = {"parquet": parquet_bytes, "csv": csv_bytes, "jsonl": jsonl_bytes}


async def load(catalog: Catalog, repo: str, *, home: str, script: str = SCRIPT) -> dict[str, Any]:
    """The dataset as `script` reads it: by default with `load_dataset`, downloaded and streamed."""
    env = {
        **os.environ,
        "HF_ENDPOINT": catalog.url,
        "HF_TOKEN": catalog.admin_token,
        "HF_HOME": home,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        repo,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, err.decode(errors="replace")[-4000:]
    return json.loads(out.decode().strip().splitlines()[-1])


@pytest.mark.parametrize("fmt", sorted(FORMATS))
async def test_load_dataset_downloaded_and_streamed(catalog: Catalog, tmp_path: os.PathLike[str], fmt: str) -> None:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    ext = "parquet" if fmt == "parquet" else fmt
    operations = [
        CommitOperationAdd(f"data/{split}-00000-of-00001.{ext}", FORMATS[fmt](rows)) for split, rows in ROWS.items()
    ]

    def upload() -> None:
        api.create_repo(f"ds-{fmt}", repo_type="dataset")
        api.create_commit(f"admin/ds-{fmt}", operations, commit_message="data", repo_type="dataset")

    await asyncio.to_thread(upload)
    got = await load(catalog, f"admin/ds-{fmt}", home=f"{tmp_path}/hf")
    for mode, splits in got.items():
        rows = {
            split: [{"text": r["text"], "label": int(r["label"])} for r in items] for split, items in splits.items()
        }
        assert rows == ROWS, mode


async def test_parquet_endpoints_list_and_serve_the_shards(catalog: Catalog) -> None:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    shards = [ROWS["train"][:1], ROWS["train"][1:]]
    operations = [
        CommitOperationAdd(f"data/train-0000{i}-of-00002.parquet", parquet_bytes(rows)) for i, rows in enumerate(shards)
    ]
    operations.append(CommitOperationAdd("data/test-00000-of-00001.parquet", parquet_bytes(ROWS["test"])))

    def upload() -> None:
        api.create_repo("pq", repo_type="dataset")
        api.create_commit("admin/pq", operations, commit_message="data", repo_type="dataset")
        api.create_repo("csv-only", repo_type="dataset")
        api.upload_file(
            path_or_fileobj=csv_bytes(ROWS["test"]),
            path_in_repo="test.csv",
            repo_id="admin/csv-only",
            repo_type="dataset",
        )
        api.create_repo("hidden", repo_type="dataset", private=True)

    await asyncio.to_thread(upload)
    base = f"{catalog.url}/api/datasets/admin/pq/parquet"
    async with aiohttp.ClientSession() as http:

        async def get(url: str) -> tuple[int, CIMultiDict[str], Any]:
            async with http.get(url) as r:
                body = await r.json() if r.content_type == "application/json" else await r.read()
                return r.status, CIMultiDict(r.headers), body

        status, _, listing = await get(base)
        assert status == 200
        assert listing == {
            "default": {
                "test": [f"{base}/default/test/0.parquet"],
                "train": [f"{base}/default/train/{n}.parquet" for n in (0, 1)],
            }
        }
        assert (await get(f"{base}/default"))[2] == listing["default"]
        assert (await get(f"{base}/default/train"))[2] == listing["default"]["train"]
        for n, rows in enumerate(shards):
            status, _, data = await get(f"{base}/default/train/{n}.parquet")  # redirects to the file
            assert status == 200
            assert pq.read_table(io.BytesIO(data)).to_pylist() == rows

        for url, code in [
            (f"{base}/default/validation", "ParquetNotFound"),
            (f"{base}/nope", "ParquetNotFound"),
            (f"{base}/default/train/2.parquet", "ParquetNotFound"),
            (f"{catalog.url}/api/datasets/admin/csv-only/parquet", "ParquetNotFound"),
            (f"{catalog.url}/api/datasets/admin/hidden/parquet", "RepoNotFound"),
        ]:
            status, headers, _ = await get(url)
            assert (status, headers["X-Error-Code"]) == (404, code), url
