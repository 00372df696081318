"""Bad input to uploads and downloads: a clear 4xx in the Hub's shape, and the repo exactly as it was.

Also: concurrent commits to one branch lose nothing, and each commit announces itself (RepoUpdated,
with the new commit id and the paths it changed) through the outbox.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError
from multidict import CIMultiDict

from contracts import decode
from contracts.topics import CATALOG_REPOS
from services.catalog import commits
from tests.compat.conftest import CLIENT_WARNINGS, Catalog
from tests.conftest import read_topic

pytestmark = CLIENT_WARNINGS


class Client:
    """Raw HTTP against the catalog, for what the real client refuses to send."""

    def __init__(self, catalog: Catalog, http: aiohttp.ClientSession) -> None:
        self.catalog, self.http = catalog, http
        self.auth = {"Authorization": f"Bearer {catalog.admin_token}"}

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, CIMultiDict[str], Any]:
        url = path if path.startswith("http") else self.catalog.url + path
        headers = {**self.auth, **kw.pop("headers", {})}
        async with self.http.request(method, url, headers=headers, **kw) as r:
            raw = await r.read()
            body = orjson.loads(raw) if raw and r.content_type.endswith("json") else raw
            return r.status, CIMultiDict(r.headers), body

    async def commit(
        self, repo: str, lines: list[dict[str, Any]] | bytes, rev: str = "main"
    ) -> tuple[int, CIMultiDict[str], Any]:
        body = lines if isinstance(lines, bytes) else b"\n".join(orjson.dumps(x) for x in lines)
        return await self.call(
            "POST", f"/api/models/{repo}/commit/{rev}", data=body, headers={"Content-Type": "application/x-ndjson"}
        )

    async def state(self, repo: str) -> tuple[str, Any]:
        """(head sha, recursive tree): what must not change when a request is refused."""
        status, _, info = await self.call("GET", f"/api/models/{repo}")
        assert status == 200
        status, _, tree = await self.call("GET", f"/api/models/{repo}/tree/main?recursive=true")
        assert status == 200
        return info["sha"], tree


@pytest_asyncio.fixture
async def client(catalog: Catalog) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as http:
        yield Client(catalog, http)


def header(summary: str = "change", **extra: Any) -> dict[str, Any]:
    return {"key": "header", "value": {"summary": summary, "description": "", **extra}}


def add(path: str, data: bytes) -> dict[str, Any]:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}


async def make_repo(catalog: Catalog, name: str) -> str:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)

    def setup() -> None:
        api.create_repo(name)
        api.upload_file(path_or_fileobj=b"keep me", path_in_repo="keep.txt", repo_id=f"admin/{name}")

    await asyncio.to_thread(setup)
    return f"admin/{name}"


def assert_hub_error(status: int, headers: CIMultiDict[str], body: Any, want_status: int, code: str) -> None:
    assert (status, headers.get("X-Error-Code")) == (want_status, code), body
    assert isinstance(body, dict)
    assert isinstance(body["error"], str)
    assert body["error"]
    assert headers.get("X-Request-Id")


BAD_PATHS = ["../evil.txt", "a/../../evil.txt", "/etc/passwd", "a\x00b.txt", "a//b.txt", "./a.txt", ".git/config"]


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_path_traversal_in_commits_is_refused(client: Client, path: str) -> None:
    repo = await make_repo(client.catalog, "paths")
    before = await client.state(repo)
    status, headers, body = await client.commit(repo, [header(), add("ok.txt", b"fine"), add(path, b"x")])
    assert_hub_error(status, headers, body, 400, "InvalidPath")
    lfs_line = {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": "a" * 64, "size": 1}}
    for line in (
        lfs_line,
        {"key": "deletedFile", "value": {"path": path}},
        {"key": "deletedFolder", "value": {"path": path}},
    ):
        status, headers, body = await client.commit(repo, [header(), line])
        assert_hub_error(status, headers, body, 400, "InvalidPath")
    status, headers, body = await client.call(
        "POST", f"/api/models/{repo}/preupload/main", json={"files": [{"path": path, "size": 1, "sample": ""}]}
    )
    assert_hub_error(status, headers, body, 400, "InvalidPath")
    assert await client.state(repo) == before


async def test_traversal_in_download_urls_is_refused(client: Client) -> None:
    repo = await make_repo(client.catalog, "dl")
    for tail in ("..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "keep.txt%00"):
        status, headers, body = await client.call("GET", f"/{repo}/resolve/main/{tail}")
        assert_hub_error(status, headers, body, 400, "InvalidPath")
    status, headers, body = await client.call("GET", f"/api/models/{repo}/tree/main/..%2F..")
    assert_hub_error(status, headers, body, 400, "InvalidPath")


@pytest.mark.parametrize(
    "repo",
    ["admin/bad..name", "admin/-lead", "admin/" + "x" * 200, "adm%20in/r"],
)
async def test_invalid_repo_ids_are_refused(client: Client, repo: str) -> None:
    status, headers, body = await client.commit(repo, [header(), add("a.txt", b"a")])
    assert_hub_error(status, headers, body, 400, "InvalidName")
    status, headers, body = await client.call("GET", f"/api/models/{repo}/tree/main")
    assert_hub_error(status, headers, body, 400, "InvalidName")
    status, headers, body = await client.call(
        "POST", f"/api/models/{repo}/preupload/main", json={"files": [{"path": "a.txt", "size": 1, "sample": ""}]}
    )
    assert_hub_error(status, headers, body, 400, "InvalidName")
    batch = {"operation": "upload", "objects": [{"oid": "a" * 64, "size": 1}]}
    status, headers, body = await client.call("POST", f"/{repo}.git/info/lfs/objects/batch", json=batch)
    assert_hub_error(status, headers, body, 400, "InvalidName")
    status, headers, body = await client.call("GET", f"/{repo}/resolve/main/a.txt")
    assert_hub_error(status, headers, body, 400, "InvalidName")


MALFORMED = [
    (b"not json at all\n", "InvalidCommit"),
    (orjson.dumps(add("a.txt", b"a")), "InvalidCommit"),  # no header first
    (orjson.dumps(header()) + b"\n" + orjson.dumps({"key": "explode", "value": {}}), "InvalidCommit"),
    (orjson.dumps(header()) + b'\n{"key": "file", "value": {"path": "a.txt", "content": "%%%"}}', "InvalidCommit"),
    (orjson.dumps(header()) + b"\n[1, 2, 3]", "InvalidCommit"),
    (orjson.dumps(header(summary="")), "InvalidCommit"),
    (b"", "InvalidCommit"),
    (orjson.dumps(header(parentCommit="HEAD~1")), "InvalidCommit"),
]


@pytest.mark.parametrize(("body", "code"), MALFORMED)
async def test_malformed_ndjson_is_refused(client: Client, body: bytes, code: str) -> None:
    repo = await make_repo(client.catalog, "ndjson")
    before = await client.state(repo)
    status, headers, answer = await client.commit(repo, body)
    assert_hub_error(status, headers, answer, 400, code)
    assert await client.state(repo) == before


@pytest_asyncio.fixture
async def small_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSTREAM_CATALOG_MAX_COMMIT_LINE_BYTES", "65536")


async def test_an_oversized_line_is_refused_with_413(small_lines: None, client: Client) -> None:
    repo = await make_repo(client.catalog, "big")
    before = await client.state(repo)
    status, headers, body = await client.commit(repo, [header(), add("big.txt", os.urandom(100_000))])
    assert_hub_error(status, headers, body, 413, "PayloadTooLarge")
    assert await client.state(repo) == before
    status, _, _ = await client.commit(repo, [header(), add("small.txt", os.urandom(40_000))])
    assert status == 200  # the limit is per line, not per body
    assert (await client.state(repo))[0] != before[0]


async def test_lfs_objects_must_be_uploaded_and_must_match(client: Client) -> None:
    repo = await make_repo(client.catalog, "lfs")
    before = await client.state(repo)
    data = os.urandom(50_000)
    oid = hashlib.sha256(data).hexdigest()
    lfs_line = {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(data)}}

    status, headers, body = await client.commit(repo, [header(), lfs_line])  # never uploaded
    assert_hub_error(status, headers, body, 422, "LfsObjectMissing")

    status, _, batch = await client.call(
        "POST",
        f"/{repo}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(data)}]},
    )
    assert status == 200
    href = batch["objects"][0]["actions"]["upload"]["href"]
    no_auth = {"Authorization": ""}
    wrong = bytearray(data)
    wrong[100] ^= 1
    status, headers, body = await client.call("PUT", href, data=bytes(wrong), headers=no_auth)
    assert_hub_error(status, headers, body, 400, "ChecksumMismatch")
    status, headers, body = await client.call("PUT", href, data=data[:-1], headers=no_auth)
    assert_hub_error(status, headers, body, 400, "ChecksumMismatch")
    status, headers, body = await client.call("PUT", href, data=data + b"!", headers=no_auth)
    assert_hub_error(status, headers, body, 400, "ChecksumMismatch")
    for forged in ("sig=0", "sig=%C3%BF"):  # altered, and not even ASCII
        status, headers, body = await client.call("PUT", href.replace("sig=", forged), data=data, headers=no_auth)
        assert_hub_error(status, headers, body, 403, "InvalidUploadUrl")
    status, headers, body = await client.commit(repo, [header(), lfs_line])  # still nothing stored
    assert_hub_error(status, headers, body, 422, "LfsObjectMissing")
    assert await client.state(repo) == before

    status, _, _ = await client.call("PUT", href, data=data, headers=no_auth)  # the right bytes, no token
    assert status == 200
    resized = {"key": "lfsFile", "value": {**lfs_line["value"], "size": len(data) + 1}}
    status, headers, body = await client.commit(repo, [header(), resized])  # uploaded, but not with that size
    assert_hub_error(status, headers, body, 422, "ChecksumMismatch")
    assert await client.state(repo) == before
    status, _, _ = await client.commit(repo, [header(), lfs_line])
    assert status == 200
    status, _, got = await client.call("GET", f"/{repo}/resolve/main/w.bin")
    assert (status, got) == (200, data)


async def test_a_refused_operation_undoes_the_whole_commit(client: Client) -> None:
    repo = await make_repo(client.catalog, "atomic")
    before = await client.state(repo)
    lines = [header(), add("new.txt", b"new"), {"key": "deletedFile", "value": {"path": "missing.txt"}}]
    status, headers, body = await client.commit(repo, lines)
    assert_hub_error(status, headers, body, 404, "EntryNotFound")
    lines = [header(), add("keep.txt/inner.txt", b"a file under a file")]
    status, headers, body = await client.commit(repo, lines)
    assert_hub_error(status, headers, body, 400, "InvalidPath")
    assert await client.state(repo) == before


async def test_a_stale_parent_commit_is_a_412_conflict(client: Client) -> None:
    repo = await make_repo(client.catalog, "stale")
    api = HfApi(endpoint=client.catalog.url, token=client.catalog.admin_token)
    head, _ = await client.state(repo)
    status, _, _ = await client.commit(repo, [header(parentCommit=head), add("one.txt", b"1")])
    assert status == 200
    before = await client.state(repo)

    def stale() -> None:
        with pytest.raises(HfHubHTTPError, match="The branch was updated since you opened this page") as info:
            api.create_commit(repo, [CommitOperationAdd("two.txt", b"2")], commit_message="x", parent_commit=head)
        assert info.value.response.status_code == 412
        assert info.value.response.headers["X-Error-Code"] == "CommitConflict"

    await asyncio.to_thread(stale)
    assert await client.state(repo) == before
    status, headers, body = await client.commit(repo, [header(parentCommit="0" * 40), add("three.txt", b"3")])
    assert_hub_error(status, headers, body, 412, "CommitConflict")  # well-formed, but no commit of this repo
    assert await client.state(repo) == before


async def test_range_errors_and_unknown_revisions(client: Client) -> None:
    repo = await make_repo(client.catalog, "ranges")
    status, headers, body = await client.call("GET", f"/{repo}/resolve/main/keep.txt", headers={"Range": "bytes=7-"})
    assert_hub_error(status, headers, body, 416, "RangeNotSatisfiable")
    assert headers["Content-Range"] == "bytes */7"
    status, headers, body = await client.call("GET", f"/{repo}/resolve/main/keep.txt", headers={"Range": "bytes=2-4"})
    assert (status, body, headers["Content-Range"]) == (206, b"ep ", "bytes 2-4/7")
    status, headers, body = await client.call("GET", f"/{repo}/resolve/nope/keep.txt")
    assert_hub_error(status, headers, body, 404, "RevisionNotFound")
    status, headers, body = await client.commit(repo, [header(), add("a.txt", b"a")], rev="v9")
    assert_hub_error(status, headers, body, 404, "RevisionNotFound")


async def test_concurrent_commits_to_one_branch_all_apply_in_order(client: Client) -> None:
    repo = await make_repo(client.catalog, "race")
    head, _ = await client.state(repo)
    results = await asyncio.gather(
        *(client.commit(repo, [header(f"c{i}"), add(f"f{i}.txt", b"%d" % i)]) for i in range(8))
    )
    assert [status for status, _, _ in results] == [200] * 8
    _, _, files = await client.call("GET", f"/api/models/{repo}/tree/main?recursive=true")
    assert {f["path"] for f in files} >= {f"f{i}.txt" for i in range(8)}
    _, _, history = await client.call("GET", f"/api/models/{repo}/commits/main")
    assert sorted(c["title"] for c in history[:8]) == [f"c{i}" for i in range(8)]  # a line: none lost
    assert {c["id"] for c in history[:8]} == {body["commitOid"] for _, _, body in results}

    # All naming the same parent: exactly one wins, the others are told to retry.
    head, _ = await client.state(repo)
    results = await asyncio.gather(
        *(client.commit(repo, [header(f"p{i}", parentCommit=head), add(f"p{i}.txt", b"p")]) for i in range(6))
    )
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] + [412] * 5
    _, _, files = await client.call("GET", f"/api/models/{repo}/tree/main?recursive=true")
    assert len([f for f in files if f["path"].startswith("p")]) == 1


async def test_each_commit_announces_its_id_and_changed_paths(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = await make_repo(client.catalog, "events")
    status, _, body = await client.commit(
        repo, [header(), add("new.txt", b"n"), {"key": "deletedFile", "value": {"path": "keep.txt"}}]
    )
    assert status == 200
    monkeypatch.setattr(commits, "MAX_EVENT_PATHS", 2)  # a commit too large to list in one event
    status, _, big = await client.commit(repo, [header(), *(add(f"many/{i}.txt", b"m") for i in range(3))])
    assert status == 200
    infra = client.catalog.config.infra
    records = await read_topic(
        infra.kafka,
        infra.topic_prefix + CATALOG_REPOS.name,
        expect=4,
        settle=1.0,
        where=lambda r: r.key == b"models/admin/events",
    )
    events = [decode(r.value) for r in records]
    assert [e.type for e in events] == [
        "hubstream.catalog.repo.created.v1",
        "hubstream.catalog.repo.updated.v1",
        "hubstream.catalog.repo.updated.v1",
        "hubstream.catalog.repo.updated.v1",
    ]
    assert (events[3].data["changed_paths"], events[3].data["changed_paths_truncated"]) == (
        ["many/0.txt", "many/1.txt"],
        True,
    )
    assert events[3].data["head_sha"] == big["commitOid"]
    last = events[2].data
    assert not last["changed_paths_truncated"]
    assert last["head_sha"] == body["commitOid"]
    assert last["changed_paths"] == ["keep.txt", "new.txt"]
    assert last["updated_refs"][0]["ref"] == "refs/heads/main"
    assert last["updated_refs"][0]["new_sha"] == body["commitOid"]
    assert last["updated_refs"][0]["old_sha"] == events[1].data["head_sha"]
