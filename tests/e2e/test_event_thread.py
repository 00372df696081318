"""One thread through all three services: REST -> outbox -> Kafka -> worker -> HTTP -> events."""

from __future__ import annotations

import asyncio
import os

import asyncpg
from huggingface_hub import HfApi

from contracts import decode
from contracts.topics import INGEST_REQUESTS, INGEST_STATUS
from services.catalog import identity
from services.runtime.outbox import Outbox
from tests.conftest import read_topic, wait_until
from tests.e2e.conftest import Stack

# huggingface_hub reads this once, at import: plain HTTP uploads, no Xet (see tests/compat/conftest.py).
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")


async def source_status(stack: Stack, source_id: str) -> dict:
    _, _, body = await stack.call("GET", "ingest", f"/v2/data-sources/{source_id}", token=stack.admin_token)
    return body


async def events_about(stack: Stack, topic: str, key: str, *, expect: int) -> list[str]:
    """The CloudEvents types on `topic` (this test's prefix) keyed by `key`, in order."""
    infra = stack.configs["ingest"].infra
    records = await read_topic(
        infra.kafka, infra.topic_prefix + topic, expect=expect, where=lambda r: r.key == key.encode()
    )
    return [decode(r.value).type for r in records]


async def test_an_index_request_runs_through_the_worker_and_follows_the_repo(stack: Stack) -> None:
    status, _, source = await stack.call(
        "POST",
        "ingest",
        "/v2/huggingface-datasets",
        token=stack.admin_token,
        json={"url": "https://huggingface.co/datasets/admin/emotion/viewer"},
    )
    assert status == 200
    assert (source["status"], source["dataset_id"], source["owner"]) == ("pending", "emotion", "admin")
    source_id = source["id"]

    async def failed() -> dict | None:
        body = await source_status(stack, source_id)
        return body if body["status"] == "failed" else None

    body = await wait_until(failed)
    assert body["error_code"] == "DatasetNotFound"
    assert "admin/emotion was not found on the catalog" in body["error"]

    # Asking again for the same global source while it has failed asks again; it is the same source.
    _, _, again = await stack.call(
        "POST", "ingest", "/v2/huggingface-datasets", token=stack.admin_token, json={"url": "admin/emotion"}
    )
    assert again["id"] == source_id
    await wait_until(failed)

    # The repo appears on the catalog: RepoCreated reaches ingest, which asks again by itself,
    # and versioning, which records the dataset.
    status, _, _ = await stack.call(
        "POST", "catalog", "/api/repos/create", token=stack.admin_token, json={"name": "emotion", "type": "dataset"}
    )
    assert status == 200

    async def failed_for_parquet() -> dict | None:
        body = await source_status(stack, source_id)
        return body if body["error_code"] == "ParquetUnavailable" and body["status"] == "failed" else None

    body = await wait_until(failed_for_parquet)
    assert "serves no parquet files" in body["error"]

    requests = await events_about(stack, INGEST_REQUESTS.name, source_id, expect=3)
    assert requests == ["hubstream.ingest.index.requested.v1"] * 3
    statuses = await events_about(stack, INGEST_STATUS.name, source_id, expect=6)
    assert (
        statuses
        == [
            "hubstream.ingest.index.started.v1",
            "hubstream.ingest.index.failed.v1",
        ]
        * 3
    )

    # A CSV file lands in the repo: the catalog's worker converts it to parquet on refs/convert/parquet, and
    # that RepoUpdated asks again for the source that failed for want of parquet files; now it completes.
    rows = "".join(f"text {i},label {i % 3}\n" for i in range(40))
    await asyncio.to_thread(
        HfApi(endpoint=stack.url("catalog", ""), token=stack.admin_token).upload_file,
        path_or_fileobj=("text,label\n" + rows).encode(),
        path_in_repo="data/train.csv",
        repo_id="admin/emotion",
        repo_type="dataset",
    )

    async def completed() -> dict | None:
        body = await source_status(stack, source_id)
        return body if body["status"] == "completed" else None

    body = await wait_until(completed, timeout=60)
    assert (body["row_count"], body["splits"]) == (40, ["train"]), body

    versioning = stack.configs["versioning"].infra.database_url
    conn = await asyncpg.connect(versioning)
    try:

        async def recorded() -> bool:
            return bool(
                await conn.fetchval("SELECT count(*) FROM versioning.catalog_datasets WHERE repo_id = 'admin/emotion'")
            )

        await wait_until(recorded)
    finally:
        await conn.close()


async def test_a_token_made_on_the_catalog_works_everywhere_until_revoked(stack: Stack) -> None:
    infra = stack.configs["catalog"].infra
    conn = await asyncpg.connect(infra.database_url, server_settings={"search_path": "catalog"})
    outbox = Outbox(schema="catalog", source="/hubstream/catalog")
    try:
        async with conn.transaction():
            await identity.create_user(conn, "bob")
            issued = await identity.issue_token(conn, outbox, "bob", role="read")
        status, _, me = await stack.call("GET", "catalog", "/api/whoami-v2", token=issued.token)
        assert (status, me["name"], me["auth"]["accessToken"]["role"]) == (200, "bob", "read")

        for service in ("ingest", "versioning"):
            await wait_until(lambda service=service: stack.token_works_on(service, issued.token))

        async with conn.transaction():
            assert await identity.revoke_token(conn, outbox, issued.token_id)
        status, _, _ = await stack.call("GET", "catalog", "/api/whoami-v2", token=issued.token)
        assert status == 401  # the owner refuses it at once

        for service in ("ingest", "versioning"):

            async def refused(service: str = service) -> bool:
                return not await stack.token_works_on(service, issued.token)

            await wait_until(refused, timeout=10)
    finally:
        await conn.close()
