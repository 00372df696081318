"""A private dataset on the real catalog: indexed for its owner with ingest's service account, refused for
anybody else, and a revoked service token fails the run in words (services/runtime/service_accounts.py)."""

from __future__ import annotations

import asyncio

import asyncpg
from huggingface_hub import HfApi

from services.catalog import identity, store
from services.runtime.outbox import Outbox
from services.runtime.service_accounts import INGEST
from tests.compat.conftest import CLIENT_WARNINGS
from tests.compat.test_ingest_from_catalog import parquet
from tests.conftest import wait_until
from tests.e2e.conftest import Stack

pytestmark = CLIENT_WARNINGS


async def catalog_conn(stack: Stack) -> asyncpg.Connection:
    infra = stack.configs["catalog"].infra
    return await asyncpg.connect(infra.database_url, server_settings={"search_path": "catalog"})


async def settled(stack: Stack, source_id: str, token: str) -> dict:
    async def done() -> dict | None:
        status, _, body = await stack.call("GET", "ingest", f"/v2/data-sources/{source_id}", token=token)
        return body if status == 200 and body["status"] in ("completed", "failed") else None

    return await wait_until(done, timeout=90)


async def index(stack: Stack, token: str, **body: object) -> tuple[int, dict]:
    status, _, answer = await stack.call("POST", "ingest", "/v2/huggingface-datasets", token=token, json=body)
    return status, answer


async def test_a_private_dataset_is_indexed_for_its_owner_only(stack: Stack) -> None:
    conn = await catalog_conn(stack)
    outbox = Outbox(schema="catalog", source="/hubstream/catalog")
    try:
        async with conn.transaction():
            for user in ("alice", "bob"):
                await identity.create_user(conn, user)
            alice = (await identity.issue_token(conn, outbox, "alice")).token
            bob = (await identity.issue_token(conn, outbox, "bob")).token
    finally:
        await conn.close()
    for token in (alice, bob):
        await wait_until(lambda token=token: stack.token_works_on("ingest", token), timeout=30)
    api = HfApi(endpoint=stack.url("catalog", ""), token=alice)
    await asyncio.to_thread(api.create_repo, "secret", repo_type="dataset", private=True)
    await asyncio.to_thread(
        api.upload_file,
        path_or_fileobj=parquet(range(12), "hidden"),
        path_in_repo="data/train.parquet",
        repo_id="alice/secret",
        repo_type="dataset",
    )

    # The owner: indexed with the service account's token, seen by her alone.
    status, mine = await index(stack, alice, url="alice/secret", add_as_global_source=False)
    assert status == 200, mine
    done = await settled(stack, mine["id"], alice)
    assert (done["status"], done["chunk_count"], done["is_global"]) == ("completed", 12, False), done
    status, _, found = await stack.call(
        "POST",
        "ingest",
        "/v2/search",
        token=alice,
        json={"messages": [{"role": "user", "content": "hidden row7"}], "data_sources": [mine["id"]]},
    )
    assert (status, found["sources"][0]["row_index"]) == (200, 7)
    status, _, _ = await stack.call("GET", "ingest", f"/v2/data-sources/{mine['id']}", token=bob)
    assert status == 404

    # A global (shared) index of a private dataset would show it to everyone: refused at once.
    status, answer = await index(stack, alice, url="alice/secret")
    assert status == 403, answer
    assert "private" in answer["detail"]

    # Someone else: the API saw that bob cannot read it, so the worker does not read it for him.
    status, his = await index(stack, bob, url="alice/secret", add_as_global_source=False)
    assert status == 200, his
    refused = await settled(stack, his["id"], bob)
    assert (refused["status"], refused["error_code"], refused["chunk_count"]) == ("failed", "DatasetNotFound", 0)
    assert "alice/secret was not found on the catalog" in refused["error"]

    # The service token revoked (as an operator would, `hubstream tokens revoke ID`): the run fails, saying why.
    conn = await catalog_conn(stack)
    try:
        async with conn.transaction():
            (token,) = await store.tokens_of(conn, INGEST.name)
            assert await identity.revoke_token(conn, outbox, token["id"])
    finally:
        await conn.close()
    status, again = await index(stack, alice, url="alice/secret", add_as_global_source=False)
    assert status == 200, again
    failed = await settled(stack, again["id"], alice)
    assert (failed["status"], failed["error_code"]) == ("failed", "CatalogError"), failed
    assert "refused ingest's service token" in failed["error"]
    assert "revoked" in failed["error"]
