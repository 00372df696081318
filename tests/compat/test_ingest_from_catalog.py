"""Ingest reads datasets from the real catalog: uploaded with huggingface_hub, indexed over REST and Kafka.

Multi-config, multi-split parquet datasets go up through the unmodified client; the ingest worker
finds their configs, splits and shards through the catalog's parquet endpoints and reads the shards
by range over the resolve URLs. A new commit re-indexes a completed source (RepoUpdated) and swaps the
new index in.
"""

from __future__ import annotations

import asyncio
import io
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
from aiokafka import AIOKafkaProducer
from huggingface_hub import CommitOperationAdd, HfApi

from contracts import encode, wrap
from contracts.ingest import IndexRequested
from contracts.topics import INGEST_REQUESTS
from tests.compat.conftest import CLIENT_WARNINGS
from tests.conftest import wait_until
from tests.e2e.conftest import Stack

pytestmark = CLIENT_WARNINGS

CARD = """---
pretty_name: Multi, a test set
license:
- apache-2.0
- cc-by-4.0
configs:
- config_name: default
  data_files:
  - split: train
    path: default/train-*.parquet
  - split: test
    path: default/test-*.parquet
- config_name: extra
  data_files:
  - split: train
    path: extra/train.parquet
---
# multi
"""


def parquet(rows: range, word: str) -> bytes:
    table = pa.table({"id": list(rows), "text": [f"{word} row{i} in the catalog" for i in rows]})
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=100)
    return out.getvalue()


async def settled(stack: Stack, source_id: str) -> dict:
    async def done() -> dict | None:
        status, _, body = await stack.call("GET", "ingest", f"/v2/data-sources/{source_id}", token=stack.admin_token)
        return body if status == 200 and body["status"] in ("completed", "failed") else None

    return await wait_until(done, timeout=90)


async def test_datasets_uploaded_with_the_hub_client_are_indexed_searched_and_reindexed(stack: Stack) -> None:
    api = HfApi(endpoint=stack.url("catalog", ""), token=stack.admin_token)
    await asyncio.to_thread(api.create_repo, "multi", repo_type="dataset")
    await asyncio.to_thread(
        api.create_commit,
        "admin/multi",
        repo_type="dataset",
        operations=[
            CommitOperationAdd("README.md", CARD.encode()),
            CommitOperationAdd("default/train-00000.parquet", parquet(range(0, 300), "alpha")),
            CommitOperationAdd("default/train-00001.parquet", parquet(range(300, 500), "alpha")),
            CommitOperationAdd("default/test-00000.parquet", parquet(range(0, 50), "beta")),
            CommitOperationAdd("extra/train.parquet", parquet(range(0, 20), "gamma")),
        ],
        commit_message="two configs",
    )
    _, _, source = await stack.call(
        "POST",
        "ingest",
        "/v2/huggingface-datasets",
        token=stack.admin_token,
        json={"url": f"{stack.url('catalog', '')}/datasets/admin/multi"},
    )
    _, _, extra = await stack.call(
        "POST",
        "ingest",
        "/v2/huggingface-datasets",
        token=stack.admin_token,
        json={"url": "admin/multi", "config": "extra"},
    )
    body = await settled(stack, source["id"])
    assert body["status"] == "completed", body
    assert body["splits"] == ["train", "test"]
    assert (body["row_count"], body["indexed_row_count"], body["chunk_count"]) == (550, 550, 550)
    assert body["columns"] == [{"name": "id", "dtype": "int64"}, {"name": "text", "dtype": "string"}]
    # From the card, as Nia's record has them (they stayed null before).
    assert (body["description"], body["license"]) == ("Multi, a test set", "apache-2.0, cc-by-4.0")
    other = await settled(stack, extra["id"])
    assert (other["status"], other["row_count"], other["splits"]) == ("completed", 20, ["train"])

    status, _, found = await stack.call(
        "POST",
        "ingest",
        "/v2/search",
        token=stack.admin_token,
        json={"messages": [{"role": "user", "content": "row42 beta"}], "data_sources": [source["id"]]},
    )
    assert status == 200, found
    assert (found["sources"][0]["split"], found["sources"][0]["row_index"]) == ("test", 42)

    # A new commit on the dataset: the completed sources are indexed again and the new index swapped in.
    await asyncio.to_thread(
        api.upload_file,
        path_or_fileobj=parquet(range(500, 600), "delta"),
        path_in_repo="default/train-00002.parquet",
        repo_id="admin/multi",
        repo_type="dataset",
    )

    async def reindexed() -> dict | None:
        _, _, now = await stack.call("GET", "ingest", f"/v2/data-sources/{source['id']}", token=stack.admin_token)
        return now if now["status"] == "completed" and now["chunk_count"] == 650 else None

    after = await wait_until(reindexed, timeout=90)
    assert after["row_count"] == 650
    status, _, found = await stack.call(
        "POST",
        "ingest",
        "/v2/search",
        token=stack.admin_token,
        json={"messages": [{"role": "user", "content": "delta row555"}], "data_sources": ["admin/multi"]},
    )
    assert found["sources"][0]["row_index"] == 555


async def test_a_request_on_kafka_and_a_private_dataset_of_someone_else(stack: Stack) -> None:
    api = HfApi(endpoint=stack.url("catalog", ""), token=stack.admin_token)
    # The client is synchronous and the services share this event loop: it runs in a thread.
    for name, private, rows in (("secret", True, 10), ("open", False, 30)):
        await asyncio.to_thread(api.create_repo, name, repo_type="dataset", private=private)
        await asyncio.to_thread(
            api.upload_file,
            path_or_fileobj=parquet(range(rows), name),
            path_in_repo="data/train.parquet",
            repo_id=f"admin/{name}",
            repo_type="dataset",
        )
    infra = stack.configs["ingest"].infra
    ids = {name: str(uuid.uuid4()) for name in ("secret", "open")}
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all")
    await producer.start()
    try:
        for name, source_id in ids.items():
            event = IndexRequested(source_id=uuid.UUID(source_id), dataset=f"admin/{name}", requested_by="bob")
            await producer.send_and_wait(
                infra.topic_prefix + INGEST_REQUESTS.name,
                encode(wrap(event, source="/other-system")),
                key=source_id.encode(),
            )
    finally:
        await producer.stop()
    opened = await settled(stack, ids["open"])
    assert (opened["status"], opened["chunk_count"]) == ("completed", 30)
    # The worker reads as nobody in particular: someone's private dataset is not found, said in words.
    secret = await settled(stack, ids["secret"])
    assert (secret["status"], secret["error_code"]) == ("failed", "DatasetNotFound")
    assert "admin/secret was not found on the catalog" in secret["error"]
