"""Nia's data-source API end to end: index over REST, poll, list, read, grep, search, delete.

The three services run as in `hubstream up` (real HTTP, PostgreSQL, Kafka, relay, worker); the
ingest worker reads its datasets from the stand-in catalog (tests/stand_in_catalog.py) until the
catalog serves parquet itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import orjson
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from bench.ingest.static_catalog import StaticCatalog, serving, text_table
from services.catalog import identity
from services.runtime.outbox import Outbox
from services.runtime.settings import ServiceConfig
from tests.conftest import wait_until
from tests.e2e.conftest import Stack


@pytest_asyncio.fixture
async def stand_in_catalog(tmp_path: Path) -> AsyncIterator[StaticCatalog]:
    async with serving(tmp_path / "shards") as served:
        yield served


@pytest.fixture
def make_config(make_config: Callable[[str], ServiceConfig], stand_in_catalog: StaticCatalog):  # type: ignore[no-untyped-def]
    """The stack's configs, with ingest reading datasets from the stand-in catalog."""

    def make(service: str) -> ServiceConfig:
        config = make_config(service)
        if service != "ingest":
            return config
        return dataclasses.replace(config, infra=config.infra.model_copy(update={"catalog_url": stand_in_catalog.url}))

    return make


async def index(stack: Stack, url: str, token: str | None = None, **extra: object) -> dict:
    status, _, body = await stack.call(
        "POST", "ingest", "/v2/huggingface-datasets", token=token or stack.admin_token, json={"url": url, **extra}
    )
    assert status == 200, body
    return body


async def settled(stack: Stack, source_id: str, token: str | None = None) -> dict:
    async def done() -> dict | None:
        _, _, body = await stack.call(
            "GET", "ingest", f"/v2/data-sources/{source_id}", token=token or stack.admin_token
        )
        return body if body.get("status") in ("completed", "failed") else None  # a 404 until the worker has it

    return await wait_until(done, timeout=60)


async def test_a_dataset_is_indexed_then_listed_read_grepped_searched_and_deleted(
    stack: Stack, stand_in_catalog: StaticCatalog
) -> None:
    stand_in_catalog.add("acme/fruit", "default", "train", text_table(300))
    stand_in_catalog.add("acme/fruit", "default", "test", text_table(40, start=300))
    source = await index(stack, "https://huggingface.co/datasets/acme/fruit/viewer")
    body = await settled(stack, source["id"])
    assert body["status"] == "completed", body
    assert (body["row_count"], body["indexed_row_count"], body["chunk_count"]) == (340, 340, 340)
    assert body["splits"] == ["train", "test"]
    assert body["columns"] == [
        {"name": "id", "dtype": "int64"},
        {"name": "text", "dtype": "string"},
        {"name": "label", "dtype": "int8"},
    ]
    assert body["sampling_strategy"] == "full"
    token = stack.admin_token

    # Asked again, a completed global source is returned as it is, not indexed again.
    assert (await index(stack, "acme/fruit"))["id"] == source["id"]

    status, _, listed = await stack.call("GET", "ingest", "/v2/data-sources?status=completed&q=FRUIT", token=token)
    assert status == 200
    assert [s["id"] for s in listed] == [source["id"]]
    for text in ("%", "_", "a_e", "acme%fruit"):  # text to find, not a LIKE pattern
        status, _, listed = await stack.call("GET", "ingest", "/v2/data-sources", params={"q": text}, token=token)
        assert (status, listed) == (200, []), text
    status, _, page = await stack.call("GET", "ingest", "/v2/sources?limit=1", token=token)
    assert page["pagination"] == {"total": 1, "limit": 1, "offset": 0, "has_more": False}
    assert page["items"][0]["metadata"]["row_count"] == 340
    status, _, by_name = await stack.call("GET", "ingest", "/v2/sources/acme%2Ffruit", token=token)
    assert (status, by_name["id"]) == (200, source["id"])

    status, _, read = await stack.call(
        "GET", "ingest", f"/v2/data-sources/{source['id']}/read?path=test&line_start=2&line_end=3", token=token
    )
    assert status == 200, read
    assert (read["split"], read["row_index"], read["chunks_returned"], read["total_lines"]) == ("test", 1, 2, 40)
    assert "row301" in read["content"]
    assert "row302" in read["content"]
    assert "row303" not in read["content"]

    status, _, grep = await stack.call(
        "POST",
        "ingest",
        f"/v2/data-sources/{source['id']}/grep",
        token=token,
        json={"pattern": r"row2[0-9]\b", "path": "train"},
    )
    assert status == 200, grep
    assert sorted(m["row_index"] for m in grep["matches"]) == list(range(20, 30))
    assert grep["counts"] == {"train": 10}

    status, _, found = await stack.call(
        "POST",
        "ingest",
        "/v2/search",
        token=token,
        json={"mode": "query", "messages": [{"role": "user", "content": "row123"}], "data_sources": ["acme/fruit"]},
    )
    assert status == 200, found
    assert (found["sources"][0]["split"], found["sources"][0]["row_index"]) == ("train", 123)
    assert found["source_paths"][0] == "acme/fruit/train/123"
    status, _, universal = await stack.call(
        "POST",
        "ingest",
        "/v2/search/universal",
        token=token,
        json={"query": "row7", "include_huggingface_datasets": True},
    )
    assert universal["results"][0]["row_index"] == 7
    _, _, without = await stack.call("POST", "ingest", "/v2/search/universal", token=token, json={"query": "row7"})
    assert without["results"] == []  # Nia leaves datasets out of universal search unless asked

    status, _, deleted = await stack.call("DELETE", "ingest", f"/v2/data-sources/{source['id']}", token=token)
    assert (status, deleted["status"]) == (200, "deleted")
    status, headers, _ = await stack.call("GET", "ingest", f"/v2/data-sources/{source['id']}", token=token)
    assert (status, headers["X-Error-Code"]) == (404, "SourceNotFound")
    home = Path(stack.configs["ingest"].infra.home)
    assert not any((home / "chunks" / source["id"]).glob("*"))


async def test_a_private_source_is_its_owners_alone(stack: Stack, stand_in_catalog: StaticCatalog) -> None:
    stand_in_catalog.add("acme/secret", "default", "train", text_table(5))
    infra = stack.configs["catalog"].infra
    conn = await asyncpg.connect(infra.database_url, server_settings={"search_path": "catalog"})
    outbox = Outbox(schema="catalog", source="/hubstream/catalog")
    try:
        async with conn.transaction():
            for user in ("alice", "bob"):
                await identity.create_user(conn, user)
            alice = await identity.issue_token(conn, outbox, "alice", role="write")
            bob = await identity.issue_token(conn, outbox, "bob", role="write")
    finally:
        await conn.close()
    for issued in (alice, bob):
        await wait_until(lambda issued=issued: stack.token_works_on("ingest", issued.token))
    private = await index(stack, "acme/secret", token=alice.token, add_as_global_source=False)
    assert (await settled(stack, private["id"], token=alice.token))["status"] == "completed"
    for path in (f"/v2/data-sources/{private['id']}", f"/v2/data-sources/{private['id']}/read?path=train"):
        status, headers, _ = await stack.call("GET", "ingest", path, token=bob.token)
        assert (status, headers["X-Error-Code"]) == (404, "SourceNotFound")
    _, _, bobs = await stack.call("GET", "ingest", "/v2/data-sources", token=bob.token)
    assert bobs == []
    status, _, _ = await stack.call(
        "POST",
        "ingest",
        "/v2/search",
        token=bob.token,
        json={"messages": [{"role": "user", "content": "row1"}], "data_sources": [private["id"]]},
    )
    assert status == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/v2/data-sources/00000000-0000-0000-0000-000000000000", None, 404, "SourceNotFound"),
        ("GET", "/v2/data-sources?limit=0", None, 422, "ValidationError"),
        ("GET", "/v2/data-sources?status=done", None, 422, "ValidationError"),
        ("POST", "/v2/search", {"messages": [{"role": "user", "content": "x"}]}, 422, "ValidationError"),
        ("POST", "/v2/search", {"data_sources": ["a/b"]}, 422, "ValidationError"),
        ("POST", "/v2/search/universal", {"query": ""}, 422, "ValidationError"),
    ],
)
async def test_bad_requests_get_a_clear_nia_error(  # type: ignore[no-untyped-def]
    stack: Stack, method: str, path: str, body, status: int, code: str
) -> None:
    got, headers, answer = await stack.call(method, "ingest", path, token=stack.admin_token, json=body)
    assert (got, headers["X-Error-Code"]) == (status, code), answer
    assert "detail" in answer


async def test_an_invalid_regex_and_reading_an_unindexed_source_are_refused(
    stack: Stack, stand_in_catalog: StaticCatalog
) -> None:
    source = await index(stack, "acme/not-there-yet")
    assert (await settled(stack, source["id"]))["error_code"] == "DatasetNotFound"
    status, headers, body = await stack.call(
        "POST", "ingest", f"/v2/data-sources/{source['id']}/grep", token=stack.admin_token, json={"pattern": "("}
    )
    assert (status, headers["X-Error-Code"]) == (422, "InvalidPattern"), body
    status, headers, body = await stack.call(
        "GET", "ingest", f"/v2/data-sources/{source['id']}/read?path=train", token=stack.admin_token
    )
    assert (status, headers["X-Error-Code"]) == (409, "SourceNotIndexed"), body


async def test_an_index_request_from_plain_aiokafka_is_indexed_and_a_deleted_repo_takes_its_sources(
    stack: Stack, stand_in_catalog: StaticCatalog
) -> None:
    """Another system, with no hubstream code: a hand-written CloudEvent on the requests topic, then a
    RepoDeleted on the repos topic."""
    stand_in_catalog.add("acme/kafka", "default", "train", text_table(25))
    infra = stack.configs["ingest"].infra
    source_id = str(uuid.uuid4())

    def envelope(event_type: str, data: dict) -> bytes:
        return orjson.dumps(
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "/labelling-tool",
                "type": event_type,
                "time": "2026-12-01T10:00:00Z",
                "datacontenttype": "application/json",
                "data": data,
            }
        )

    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            infra.topic_prefix + "hubstream.ingest.requests",
            envelope("hubstream.ingest.index.requested.v1", {"source_id": source_id, "dataset": "acme/kafka"}),
            key=source_id.encode(),
        )
        body = await settled(stack, source_id)
        assert (body["status"], body["indexed_row_count"], body["chunk_count"]) == ("completed", 25, 25), body

        await producer.send_and_wait(
            infra.topic_prefix + "hubstream.catalog.repos",
            envelope("hubstream.catalog.repo.deleted.v1", {"repo_type": "dataset", "repo_id": "acme/kafka"}),
            key=b"datasets/acme/kafka",
        )
    finally:
        await producer.stop()

    async def gone() -> bool:
        status, _, _ = await stack.call("GET", "ingest", f"/v2/data-sources/{source_id}", token=stack.admin_token)
        return status == 404

    await wait_until(gone, timeout=30)
    assert not any((Path(infra.home) / "chunks" / source_id).glob("*"))


async def test_cancelling_a_running_index_stops_it_and_says_so(stack: Stack, stand_in_catalog: StaticCatalog) -> None:
    stand_in_catalog.add("acme/long", "default", "train", text_table(200_000), row_group_size=500)
    source = await index(stack, "acme/long")
    token = stack.admin_token

    async def indexing() -> dict | None:
        _, _, body = await stack.call("GET", "ingest", f"/v2/data-sources/{source['id']}", token=token)
        progress = body.get("progress") or {}
        return body if progress.get("stage") == "indexing" and progress["rows_done"] > 0 else None

    running = await wait_until(indexing, timeout=60)
    assert running["status"] == "processing"
    assert 0 < running["progress"]["percent"] < 100
    assert running["progress"]["rows_to_index"] == 100_000  # sampled: 200K rows

    # The operator's view: `hubstream ingest status` draws a bar for the run, `cancel` stops it.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUBSTREAM_")},
        "HUBSTREAM_HOME": str(Path(stack.configs["ingest"].infra.home)),
        "HUBSTREAM_INGEST_URL": stack.configs["ingest"].http.url,
        "HUBSTREAM_ADMIN_TOKEN": token,
    }
    shown = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "ingest", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    bar = shown.stderr + shown.stdout  # tqdm draws on stderr
    assert f"acme/long ({source['id'][:8]})" in bar
    assert "rows" in bar
    assert "indexing" in bar
    cancelled_by_cli = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "ingest", "cancel", source["id"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cancelled_by_cli.returncode == 0, cancelled_by_cli.stderr
    assert "cancelled by admin" in cancelled_by_cli.stdout
    status, _, cancelled = await stack.call("GET", "ingest", f"/v2/data-sources/{source['id']}", token=token)
    assert (cancelled["status"], cancelled["error_code"], cancelled["progress"]) == ("failed", "Cancelled", None)
    # Nothing of the cancelled run is searchable, so nothing counts as indexed (it said the run's progress).
    assert (cancelled["indexed_row_count"], cancelled["chunk_count"]) == (0, 0)
    assert cancelled["row_count"] == 200_000  # what the dataset holds is still known
    status, headers, _ = await stack.call("POST", "ingest", f"/v2/data-sources/{source['id']}/cancel", token=token)
    assert (status, headers["X-Error-Code"]) == (409, "NothingToCancel")

    chunks = Path(stack.configs["ingest"].infra.home) / "chunks" / source["id"]

    async def dropped() -> bool:
        return not any(chunks.glob("*"))  # the worker stopped at its next row group and dropped the run's index

    await wait_until(dropped, timeout=90)  # a row group can take long on a busy machine
    _, _, after = await stack.call("GET", "ingest", f"/v2/data-sources/{source['id']}", token=token)
    assert after["status"] == "failed"
