"""Datasets stored as CSV, JSON Lines or JSON, converted to parquet on refs/convert/parquet by the catalog's
worker (its real consumer on Kafka and its executor), then listed and served by the parquet endpoints."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import pytest_asyncio
from huggingface_hub import CommitOperationAdd, HfApi

from services.catalog import store, store_conversions, store_files
from services.catalog.convert_rows import Limits
from services.catalog.files_resources import blob_store
from services.catalog.files_settings import FileSettings
from services.catalog.parquet_conversion import ConversionDeps, convert
from services.registry import definition
from services.runtime.resources import BackgroundTasks
from services.runtime.service import worker_deps
from tests.compat.conftest import CLIENT_WARNINGS, Catalog
from tests.compat.test_datasets_load import ROWS, csv_bytes, jsonl_bytes, load
from tests.conftest import wait_until

pytestmark = CLIENT_WARNINGS


@pytest_asyncio.fixture
async def converter(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """`hubstream worker catalog`, in this process: the repo-event consumer and the conversion executor."""
    monkeypatch.setenv("HUBSTREAM_CONVERT_POLL_SECONDS", "0.1")
    service = definition("catalog")
    assert service.worker_consumers is not None
    async with (
        worker_deps(service, catalog.config) as deps,
        service.worker_consumers(deps) as loops,
        BackgroundTasks({loop.group: loop.run for loop in loops}),
    ):
        yield


async def upload(catalog: Catalog, name: str, files: dict[str, bytes]) -> str:
    """A new dataset `admin/name` with these files in one commit; the commit id."""
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)

    def run() -> str:
        api.create_repo(name, repo_type="dataset")
        operations = [CommitOperationAdd(path, data) for path, data in files.items()]
        return api.create_commit(f"admin/{name}", operations, commit_message="data", repo_type="dataset").oid

    return await asyncio.to_thread(run)


async def converted(catalog: Catalog, name: str, sha: str) -> dict[str, Any]:
    """The conversion record of `admin/name` once the worker finished converting commit `sha`."""
    repo = await store.repo(catalog.pool, "dataset", "admin", name)
    assert repo is not None

    async def finished() -> Any:
        row = await store_conversions.conversion(catalog.pool, repo["id"])
        return row if row is not None and not row["pending"] and row["source_sha"] == sha else None

    return dict(await wait_until(finished, timeout=60))


async def follow(catalog: Catalog, url: str) -> tuple[str, list[dict[str, object]]]:
    """Where a shard URL redirects, and the rows of the parquet file found there."""
    status, headers, _ = await catalog.call("GET", url.removeprefix(catalog.url))
    assert status == 302, url
    status, _, data = await catalog.call("GET", headers["Location"].removeprefix(catalog.url))
    assert status == 200
    return headers["Location"], pq.read_table(io.BytesIO(data)).to_pylist()


def as_rows(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{"text": r["text"], "label": int(str(r["label"]))} for r in rows]


async def test_csv_and_json_lines_are_converted_listed_and_loaded(
    catalog: Catalog, converter: None, tmp_path: Path
) -> None:
    readme = (
        "---\nconfigs:\n- config_name: lines\n  data_files:\n  - split: train\n    path: lines/train.jsonl\n"
        "  - split: test\n    path: lines/test.jsonl\n- config_name: table\n  data_files: table/*.csv\n---\n# Two\n"
    )
    sha = await upload(
        catalog,
        "two",
        {
            "README.md": readme.encode(),
            "lines/train.jsonl": jsonl_bytes(ROWS["train"]),
            "lines/test.jsonl": jsonl_bytes(ROWS["test"]),
            "table/all.csv": csv_bytes(ROWS["train"] + ROWS["test"]),
        },
    )
    record = await converted(catalog, "two", sha)
    assert record["errors"] == []
    status, _, listing = await catalog.call("GET", "/api/datasets/admin/two/parquet")
    assert status == 200
    base = f"{catalog.url}/api/datasets/admin/two/parquet"
    assert listing == {
        "lines": {"test": [f"{base}/lines/test/0.parquet"], "train": [f"{base}/lines/train/0.parquet"]},
        "table": {"train": [f"{base}/table/train/0.parquet"]},
    }
    location, rows = await follow(catalog, listing["lines"]["train"][0])
    assert location == f"{catalog.url}/datasets/admin/two/resolve/refs%2Fconvert%2Fparquet/lines/train/0000.parquet"
    assert as_rows(rows) == ROWS["train"]
    assert as_rows((await follow(catalog, listing["table"]["train"][0]))[1]) == ROWS["train"] + ROWS["test"]

    # The conversion is a commit of its own on refs/convert/parquet, saying which main commit it came from.
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    refs = await asyncio.to_thread(api.list_repo_refs, "admin/two", repo_type="dataset")
    assert [(r.ref, r.target_commit) for r in refs.converts] == [("refs/convert/parquet", record["converted_sha"])]
    commits = await asyncio.to_thread(
        api.list_repo_commits, "admin/two", repo_type="dataset", revision="refs/convert/parquet"
    )
    assert commits[0].title == f"Update parquet files (from {sha})"
    files = await asyncio.to_thread(
        api.list_repo_files, "admin/two", repo_type="dataset", revision="refs/convert/parquet"
    )
    assert sorted(files) == [
        ".gitattributes",
        "lines/test/0000.parquet",
        "lines/train/0000.parquet",
        "table/train/0000.parquet",
    ]
    (event,) = [
        e
        for e in await catalog.events("hubstream.catalog.repo.updated.v1")
        if e["updated_refs"][0]["ref"] == "refs/convert/parquet"
    ]
    assert event["updated_refs"][0]["new_sha"] == record["converted_sha"]

    # datasets reads the conversion as the Hub lays it out: {config}/{split}/NNNN.parquet.
    script = "import json, sys\nfrom datasets import load_dataset\n"
    script += "ds = load_dataset(sys.argv[1], revision='refs/convert/parquet', data_dir='lines')\n"
    script += "print(json.dumps({s: [dict(r) for r in ds[s]] for s in ds}))\n"
    got = await load(catalog, "admin/two", home=f"{tmp_path}/hf", script=script)
    assert {split: as_rows(rows) for split, rows in got.items()} == ROWS


async def test_bad_files_and_configs_leave_readable_errors_and_the_worker_carries_on(
    catalog: Catalog, converter: None
) -> None:
    readme = (
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: good.csv\n"
        "  - split: test\n    path: broken.csv\n- config_name: ghost\n  data_files: nowhere/*.jsonl\n---\n"
    )
    bad = b'text,label\na,1\nb,2,3\n"unterminated\n'
    sha = await upload(
        catalog, "mixed", {"README.md": readme.encode(), "good.csv": csv_bytes(ROWS["train"]), "broken.csv": bad}
    )
    record = await converted(catalog, "mixed", sha)
    assert {(e["config"], e["split"], e["path"]) for e in record["errors"]} == {
        ("default", "test", "broken.csv"),
        ("ghost", "train", ""),
    }
    base = "/api/datasets/admin/mixed/parquet"
    status, _, listing = await catalog.call("GET", base)
    assert status == 200
    assert list(listing) == ["default"]
    assert list(listing["default"]) == ["train"]
    assert as_rows((await follow(catalog, listing["default"]["train"][0]))[1]) == ROWS["train"]
    for path, words in [
        (f"{base}/default/test", "default/test could not be converted to parquet: default/test: broken.csv: "),
        (f"{base}/ghost", "ghost could not be converted to parquet: ghost/train: data_files ['nowhere/*.jsonl']"),
        (f"{base}/default/validation", "config 'default' has no split 'validation'"),
        (f"{base}/nope", "no config 'nope'; there are: default"),
    ]:
        status, headers, body = await catalog.call("GET", path)
        assert (status, headers["X-Error-Code"]) == (404, "ParquetNotFound"), path
        assert body["error"].startswith(words), body

    # Nothing convertible at all: no commit on refs/convert/parquet, and the listing says why.
    sha = await upload(catalog, "unreadable", {"train.jsonl": b'{"text": "a"}\n{"text": \n'})
    record = await converted(catalog, "unreadable", sha)
    assert record["converted_sha"] is None
    status, headers, body = await catalog.call("GET", "/api/datasets/admin/unreadable/parquet")
    assert (status, headers["X-Error-Code"]) == (404, "ParquetNotFound")
    assert body["error"].startswith("admin/unreadable could not be converted to parquet: default/train: train.jsonl:")
    repo = await store.repo(catalog.pool, "dataset", "admin", "unreadable")
    assert repo is not None
    assert await store_files.ref_target(catalog.pool, repo["id"], "convert", "parquet") is None

    # The worker carried on: the next dataset converts.
    sha = await upload(catalog, "after", {"data/train.jsonl": jsonl_bytes(ROWS["train"])})
    assert (await converted(catalog, "after", sha))["converted_sha"] is not None


async def test_a_superseded_conversion_never_replaces_a_newer_one(catalog: Catalog) -> None:
    """Two conversions run at once (an old commit's, still going when main moved on): whichever ends last,
    refs/convert/parquet holds the conversion of the newest commit."""
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    old = await upload(catalog, "moving", {"train.jsonl": jsonl_bytes(ROWS["train"])})
    new = (
        await asyncio.to_thread(
            api.upload_file,
            path_or_fileobj=jsonl_bytes(ROWS["test"]),
            path_in_repo="train.jsonl",
            repo_id="admin/moving",
            repo_type="dataset",
        )
    ).oid
    repo = await store.repo(catalog.pool, "dataset", "admin", "moving")
    assert repo is not None
    deps = ConversionDeps(
        catalog.pool, catalog.outbox(), blob_store(FileSettings(), catalog.home), catalog.home, Limits()
    )
    async with catalog.pool.acquire() as conn:
        await store_conversions.request(conn, repo["id"], new)  # what the consumer records for the newer commit
    newer = await convert(deps, repo["id"], new)
    older = await convert(deps, repo["id"], old)  # finishes after the newer one
    assert (newer.superseded, older.superseded) == (False, True)
    assert older.converted_sha is None
    target = await store_files.ref_target(catalog.pool, repo["id"], "convert", "parquet")
    assert target == newer.converted_sha
    record = await store_conversions.conversion(catalog.pool, repo["id"])
    assert record is not None
    assert record["source_sha"] == new
    _, rows = await follow(catalog, f"{catalog.url}/api/datasets/admin/moving/parquet/default/train/0.parquet")
    assert as_rows(rows) == ROWS["test"]
