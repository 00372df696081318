"""`/api/datasets/{id}/croissant`: Croissant JSON-LD that mlcroissant (the format's reference library) accepts,
for converted datasets and for datasets stored as parquet."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import mlcroissant as mlc
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import HfApi

from tests.compat.conftest import CLIENT_WARNINGS, Catalog
from tests.compat.test_datasets_convert import converted, converter, upload
from tests.compat.test_datasets_load import ROWS, csv_bytes

# mlcroissant parses JSON-LD through an rdflib API that rdflib now deprecates: theirs to change, not ours.
pytestmark = [CLIENT_WARNINGS, pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")]
__all__ = ["converter"]


def validated(document: dict[str, Any]) -> mlc.Dataset:
    """The document as mlcroissant reads it; it raises on any validation error."""
    dataset = mlc.Dataset(jsonld=document)
    assert not dataset.metadata.ctx.issues.errors
    return dataset


def fields(dataset: mlc.Dataset, record_set: str) -> dict[str, str]:
    (chosen,) = [r for r in dataset.metadata.record_sets if r.id == record_set]
    return {f.id: str(f.data_types[0]) for f in chosen.fields}


async def test_a_converted_dataset_has_a_croissant_document_that_validates(catalog: Catalog, converter: None) -> None:
    readme = "---\nlicense: mit\n---\n# Labels\n"
    files = {"README.md": readme.encode(), "train.csv": csv_bytes(ROWS["train"]), "test.csv": csv_bytes(ROWS["test"])}
    sha = await upload(catalog, "labels", files)
    await converted(catalog, "labels", sha)
    status, _, document = await catalog.call("GET", "/api/datasets/admin/labels/croissant")
    assert status == 200
    dataset = await asyncio.to_thread(validated, document)
    assert dataset.metadata.url == f"{catalog.url}/datasets/admin/labels"
    assert document["license"] == "https://choosealicense.com/licenses/mit/"
    repo, files_of_default = document["distribution"]
    assert repo["contentUrl"] == f"{catalog.url}/datasets/admin/labels/tree/refs%2Fconvert%2Fparquet"
    assert files_of_default["includes"] == "default/*/*.parquet"
    splits = next(r for r in document["recordSet"] if r["@id"] == "default_splits")
    assert splits["data"] == [{"default_splits/split_name": s} for s in ("test", "train")]
    assert fields(dataset, "default") == {
        "default/split": "https://schema.org/Text",
        "default/text": "https://schema.org/Text",
        "default/label": "https://schema.org/Integer",
    }


async def test_a_parquet_dataset_has_one_too_and_the_rest_are_hub_shaped_404s(catalog: Catalog) -> None:
    table = pa.table({"text": ["a"], "score": [0.5], "ok": [True], "tags": [["x"]]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    await upload(catalog, "pq", {"data/train-00000-of-00001.parquet": buffer.getvalue()})
    status, _, document = await catalog.call("GET", "/api/datasets/admin/pq/croissant")
    assert status == 200
    dataset = await asyncio.to_thread(validated, document)
    assert fields(dataset, "default") == {  # a list column has no Croissant data type of its own: left out
        "default/text": "https://schema.org/Text",
        "default/score": "https://schema.org/Float",
        "default/ok": "https://schema.org/Boolean",
    }
    assert document["distribution"][0]["contentUrl"].endswith("/datasets/admin/pq/tree/" + (await head(catalog)))

    await upload(catalog, "raw", {"train.csv": csv_bytes(ROWS["train"])})  # no worker here: never converted
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    await asyncio.to_thread(api.create_repo, "secret", repo_type="dataset", private=True)
    for path, code in [
        ("/api/datasets/admin/raw/croissant", "ParquetNotFound"),
        ("/api/datasets/admin/secret/croissant", "RepoNotFound"),
        ("/api/datasets/admin/nothing/croissant", "RepoNotFound"),
    ]:
        status, headers, body = await catalog.call("GET", path)
        assert (status, headers["X-Error-Code"]) == (404, code), path
        assert body["error"], path


async def head(catalog: Catalog) -> str:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    return (await asyncio.to_thread(api.dataset_info, "admin/pq")).sha or ""
