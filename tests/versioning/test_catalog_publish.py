"""Versions to and from the catalog: publish as a tagged parquet commit, import a repo file as a version.

The whole stack runs (catalog, versioning, ingest) on real HTTP. Versioning calls the catalog with the
token in HUBSTREAM_VERSIONING_CATALOG_TOKEN: here a plain catalog user's token, the owner of the target
repo (the stack's own service account is wired in elsewhere). `datasets.load_dataset(repo, revision=tag)`
runs in a process of its own (it reads HF_ENDPOINT when imported).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from huggingface_hub import CommitOperationAdd, HfApi

from services.runtime.settings import ServiceConfig
from services.versioning.catalog_client import CatalogClient
from services.versioning.errors import VersioningError
from tests.compat.conftest import CLIENT_WARNINGS
from tests.conftest import free_port, wait_until
from tests.e2e.conftest import Stack, register_catalog_token, running_stack

pytestmark = CLIENT_WARNINGS

LOAD = """
import json, sys
from datasets import load_dataset
ds = load_dataset(sys.argv[1], revision=sys.argv[2], split="train")
print(json.dumps([dict(r) for r in ds]))
"""

QA = [
    {"inputs": {"question": "2+2?"}, "target": {"answer": "4"}},
    {"inputs": {"question": "capital of France?"}, "target": {"answer": "Paris", "score": 1.5}},
    {"messages": [{"role": "user", "content": "hi"}], "target": {"tags": ["a", "b"]}},
]
LABELLED = {"inputs": {"question": "5-1?"}, "target": {"answer": "4"}}
EXTRA = {"inputs": {"question": "3*3?", "_dedupe_id": "x"}, "target": {"answer": "9"}}


@pytest_asyncio.fixture
async def stack_with_publisher(
    make_config: Callable[[str], ServiceConfig], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Stack, str]]:
    """The stack, versioning configured with the token of `publisher`, a catalog user created once it is up."""
    token = "hf_" + secrets.token_hex(16)
    monkeypatch.setenv("HUBSTREAM_VERSIONING_CATALOG_TOKEN", token)
    async with running_stack(make_config) as stack:
        await register_catalog_token(stack, "publisher", token)

        async def versioning_knows_the_token() -> bool:  # it reaches versioning's token copy through an event
            return (await v5(stack, "GET", "/datasets", caller=token))[0] == 200

        await wait_until(versioning_knows_the_token, timeout=30)
        yield stack, token


async def v5(stack: Stack, method: str, path: str, caller: str | None = None, **kw: Any) -> tuple[int, Any, str | None]:
    """A call to versioning's /v5 as `caller` (a token; the admin's by default)."""
    status, headers, body = await stack.call(
        method, "versioning", "/v5" + path, token=caller or stack.admin_token, header="X-API-KEY", **kw
    )
    return status, body, headers.get("X-Error-Code")


async def load_tag(stack: Stack, repo: str, tag: str, home: str, token: str) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        "HF_ENDPOINT": stack.url("catalog", ""),
        "HF_TOKEN": token,
        "HF_HOME": home,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOAD, repo, tag, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, err.decode(errors="replace")[-4000:]
    return json.loads(out.decode().strip().splitlines()[-1])


def as_datapoints(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Published rows (JSON text columns) back to datapoints."""
    return [{k: json.loads(r[k]) for k in ("inputs", "messages", "target") if r[k] is not None} for r in rows]


def key(point: dict[str, Any]) -> str:
    return json.dumps(point, sort_keys=True)


async def test_publish_and_import_round_trip_idempotently(
    stack_with_publisher: tuple[Stack, str], tmp_path: os.PathLike[str]
) -> None:
    stack, token = stack_with_publisher
    hub = HfApi(endpoint=stack.url("catalog", ""), token=token)
    await asyncio.to_thread(hub.create_repo, "evalset", repo_type="dataset")
    status, v1, _ = await v5(
        stack, "POST", "/datasets", json={"path": "qa/eval", "datapoints": QA, "version_name": "v1"}
    )
    assert status == 200, v1
    status, v2, _ = await v5(
        stack, "POST", "/datasets", json={"id": v1["id"], "datapoints": [EXTRA], "action": "add", "version_name": "v2"}
    )
    assert status == 200, v2
    publish = f"/datasets/{v1['id']}/publish"

    first = await v5(
        stack, "POST", publish, caller=token, json={"repo_id": "publisher/evalset", "version_id": v1["version_id"]}
    )
    assert first[0] == 200, first
    assert (first[1]["tag"], first[1]["created"], first[1]["datapoints_count"]) == ("v1", True, 3)
    again = await v5(
        stack, "POST", publish, caller=token, json={"repo_id": "publisher/evalset", "version_id": v1["version_id"]}
    )
    assert (again[0], again[1]["created"], again[1]["commit_sha"]) == (200, False, first[1]["commit_sha"])
    second = await v5(
        stack, "POST", publish, caller=token, json={"repo_id": "publisher/evalset", "version_id": v2["version_id"]}
    )
    assert (second[0], second[1]["tag"]) == (200, "v2")
    assert second[1]["commit_sha"] != first[1]["commit_sha"]
    commits = await asyncio.to_thread(hub.list_repo_commits, "publisher/evalset", repo_type="dataset")
    assert sum(c.title.startswith("Publish qa/eval") for c in commits) == 2, [c.title for c in commits]

    # Each tag reads exactly its version, whatever main holds now.
    for tag, expected in (("v1", QA), ("v2", [*QA, EXTRA])):
        rows = await load_tag(stack, "publisher/evalset", tag, f"{tmp_path}/hf-{tag}", token)
        assert sorted(map(key, as_datapoints(rows))) == sorted(map(key, expected)), (tag, rows)

    # The reverse: the published parquet of v1 (at its tag), and a JSONL file, imported as versions.
    imported = {"repo_id": "publisher/evalset", "file": "data/train.parquet", "revision": "v1", "path": "qa/copy"}
    status, copy, _ = await v5(
        stack, "POST", "/datasets/import", caller=token, json={**imported, "commit_message": "from hub"}
    )
    assert status == 200, copy
    assert (copy["datapoints_count"], copy["attributes"]["imported_from"]["revision"]) == (3, "v1")
    status, retry, _ = await v5(
        stack, "POST", "/datasets/import", caller=token, json={**imported, "commit_message": "from hub"}
    )
    assert (status, retry["version_id"]) == (200, copy["version_id"]), retry
    status, points, _ = await v5(stack, "GET", f"/datasets/{copy['id']}/datapoints", params={"size": "10"})
    assert sorted(key({k: v for k, v in p.items() if k != "id"}) for p in points["records"]) == sorted(map(key, QA))

    lines = "".join(json.dumps(p) + "\n" for p in [LABELLED, QA[0]]).encode()
    await asyncio.to_thread(
        hub.create_commit,
        "publisher/evalset",
        [CommitOperationAdd("more/extra.jsonl", lines)],
        commit_message="labelled rows",
        repo_type="dataset",
    )
    jsonl = {"repo_id": "publisher/evalset", "file": "more/extra.jsonl", "id": v1["id"], "action": "add"}
    status, v3, _ = await v5(stack, "POST", "/datasets/import", caller=token, json=jsonl)
    assert (status, v3["datapoints_count"], v3["report"]["added"]) == (200, 5, 1), v3
    status, v3_again, _ = await v5(stack, "POST", "/datasets/import", caller=token, json=jsonl)
    assert (status, v3_again["version_id"]) == (200, v3["version_id"])
    status, listed, _ = await v5(stack, "GET", f"/datasets/{v1['id']}/versions")
    assert [v["version_id"] for v in listed["records"]] == [v3["version_id"], v2["version_id"], v1["version_id"]]

    # The CLI calls the same route (as the repo's owner: the catalog's rules decide): publishing v2 again
    # changes nothing and says so.
    env = {
        **os.environ,
        "HUBSTREAM_ADMIN_TOKEN": token,
        "HUBSTREAM_VERSIONING_URL": stack.url("versioning", ""),
        "HUBSTREAM_HOME": f"{tmp_path}/cli-home",
    }
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "versioning",
        "publish",
        v1["id"],
        "--repo",
        "publisher/evalset",
        "--version-id",
        v2["version_id"],
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(cli.communicate(), timeout=60)
    assert cli.returncode == 0, err.decode()
    assert f"already published: version {v2['version_id']}" in out.decode(), out.decode()
    assert f"tag v2 (commit {second[1]['commit_sha'][:12]})" in out.decode()


async def test_publish_and_import_errors_change_nothing(stack_with_publisher: tuple[Stack, str]) -> None:
    stack, token = stack_with_publisher
    hub = HfApi(endpoint=stack.url("catalog", ""), token=token)
    await asyncio.to_thread(hub.create_repo, "mine", repo_type="dataset")
    admin_hub = HfApi(endpoint=stack.url("catalog", ""), token=stack.admin_token)
    await asyncio.to_thread(admin_hub.create_repo, "not-theirs", repo_type="dataset")
    await asyncio.to_thread(
        admin_hub.create_commit,
        "admin/not-theirs",
        [CommitOperationAdd("bad.jsonl", b'{"inputs": {"q": 1}}\n'), CommitOperationAdd("notes.txt", b"hello")],
        commit_message="files",
        repo_type="dataset",
    )
    status, ds, _ = await v5(stack, "POST", "/datasets", json={"path": "err/eval", "datapoints": QA[:1]})
    assert status == 200
    publish = f"/datasets/{ds['id']}/publish"
    cases = [
        ("POST", publish, {"repo_id": "publisher/mine", "version_id": "dsv_nope"}, 404, "VersionNotFound"),
        ("POST", "/datasets/ds_nope/publish", {"repo_id": "publisher/mine"}, 404, "DatasetNotFound"),
        ("POST", publish, {"repo_id": "publisher/absent"}, 404, "CatalogNotFound"),
        ("POST", publish, {"repo_id": "admin/not-theirs"}, 502, "CatalogRefused"),  # the token may not write there
        ("POST", publish, {"repo_id": "no slash"}, 422, "ValidationError"),
        ("POST", "/datasets/import", {"repo_id": "admin/not-theirs", "file": "gone.jsonl", "id": ds["id"]}, 404, None),
        ("POST", "/datasets/import", {"repo_id": "admin/not-theirs", "file": "bad.jsonl", "id": ds["id"]}, 422, None),
        ("POST", "/datasets/import", {"repo_id": "admin/not-theirs", "file": "notes.txt", "id": ds["id"]}, 422, None),
        ("POST", "/datasets/import", {"repo_id": "admin/not-theirs", "file": "bad.jsonl", "path": "a//b"}, 422, None),
    ]
    expected_codes = {5: "CatalogNotFound", 6: "InvalidDatapoints", 7: "InvalidImportFile", 8: "InvalidPath"}
    for i, (method, path, body, want, code) in enumerate(cases):
        status, answer, error_code = await v5(stack, method, path, json=body)
        assert status == want, (i, status, answer)
        assert error_code == (code or expected_codes[i]), (i, error_code, answer)
        assert "detail" in answer, (i, answer)
    status, listed, _ = await v5(stack, "GET", f"/datasets/{ds['id']}/versions")
    assert [v["version_id"] for v in listed["records"]] == [ds["version_id"]]
    status, all_datasets, _ = await v5(stack, "GET", "/datasets")
    assert sorted(d["path"] for d in all_datasets["records"]) == ["err/eval"]
    refs = await asyncio.to_thread(hub.list_repo_refs, "publisher/mine", repo_type="dataset")
    assert refs.tags == []


async def test_a_caller_acts_on_catalog_repos_only_as_the_catalog_lets_them(
    stack_with_publisher: tuple[Stack, str],
) -> None:
    # Versioning's own catalog token may write `publisher/...`; a versioning writer who may not must not get
    # to write there through it, nor read a private repo through it.
    stack, token = stack_with_publisher
    hub = HfApi(endpoint=stack.url("catalog", ""), token=token)
    await asyncio.to_thread(hub.create_repo, "guarded", repo_type="dataset", private=True)
    await asyncio.to_thread(
        hub.create_commit,
        "publisher/guarded",
        [CommitOperationAdd("rows.jsonl", b'{"inputs": {"q": 1}}\n')],
        commit_message="rows",
        repo_type="dataset",
    )
    outsider = "hf_" + secrets.token_hex(16)
    await register_catalog_token(stack, "outsider", outsider)

    async def as_outsider(path: str, body: dict[str, Any]) -> tuple[int, Any, str | None]:
        status, headers, answer = await stack.call(
            "POST", "versioning", "/v5" + path, token=outsider, header="X-API-KEY", json=body
        )
        return status, answer, headers.get("X-Error-Code")

    async def versioning_knows_the_token() -> bool:  # the token reaches versioning's copy through an event
        return (await as_outsider("/datasets", {"path": "outsider/own", "datapoints": QA[:1]}))[0] == 200

    await wait_until(versioning_knows_the_token, timeout=30)
    status, ds, _ = await v5(stack, "POST", "/datasets", json={"path": "shared/eval", "datapoints": QA[:1]})
    assert status == 200, ds
    head = await asyncio.to_thread(hub.list_repo_commits, "publisher/guarded", repo_type="dataset")

    status, answer, code = await as_outsider(f"/datasets/{ds['id']}/publish", {"repo_id": "publisher/guarded"})
    assert (status, code) == (404, "CatalogNotFound"), answer  # private: the outsider may not even see it
    await asyncio.to_thread(hub.update_repo_settings, "publisher/guarded", private=False, repo_type="dataset")
    status, answer, code = await as_outsider(f"/datasets/{ds['id']}/publish", {"repo_id": "publisher/guarded"})
    assert (status, code) == (403, "Forbidden"), answer  # public now: readable, still not the outsider's to write
    after = await asyncio.to_thread(hub.list_repo_commits, "publisher/guarded", repo_type="dataset")
    assert [c.commit_id for c in after] == [c.commit_id for c in head]
    assert (await asyncio.to_thread(hub.list_repo_refs, "publisher/guarded", repo_type="dataset")).tags == []

    await asyncio.to_thread(hub.update_repo_settings, "publisher/guarded", private=True, repo_type="dataset")
    imported = {"repo_id": "publisher/guarded", "file": "rows.jsonl", "path": "outsider/copy"}
    status, answer, code = await as_outsider("/datasets/import", imported)
    assert (status, code) == (404, "CatalogNotFound"), answer
    status, listed, _ = await v5(stack, "GET", "/datasets")
    assert "outsider/copy" not in [d["path"] for d in listed["records"]]


async def test_a_catalog_that_does_not_answer_is_a_502_that_says_so() -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        dead = CatalogClient(session, f"http://127.0.0.1:{free_port()}", lambda: "hf_token", 1024)
        with pytest.raises(VersioningError) as caught:
            await dead.tag_target("someone/repo", "v1")
        assert (caught.value.status, caught.value.code) == (502, "CatalogUnavailable")
        assert "did not answer" in caught.value.message
        unconfigured = CatalogClient(session, "http://127.0.0.1:1", lambda: None, 1024)
        with pytest.raises(VersioningError) as caught:
            await unconfigured.tag_target("someone/repo", "v1")
        assert caught.value.code == "CatalogUnavailable"
        assert "HUBSTREAM_VERSIONING_CATALOG_TOKEN" in caught.value.message
