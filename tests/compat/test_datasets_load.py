"""`datasets.load_dataset` against the catalog, in a process of its own (it reads HF_ENDPOINT when imported)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

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


async def load(catalog: Catalog, repo: str, *, home: str) -> dict[str, dict[str, list[dict[str, object]]]]:
    """The dataset as `load_dataset` reads it, downloaded and streamed."""
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
        SCRIPT,
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
