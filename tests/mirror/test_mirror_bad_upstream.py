"""An upstream that misbehaves during a sync: malformed and truncated answers, 429 with Retry-After, a file whose
bytes are not the ones announced. The sync records the error and goes on; every repo stays at its old state or
reaches its new one (never half); a mismatching file is never cached. On a read of an older commit's tree, garbage,
a 5xx or another commit's files are a 502 naming the upstream, and nothing is stored.

The upstream here is a small Hub stand-in (canned answers the test changes between syncs), because the real
catalog never misbehaves on purpose.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import free_port, wait_until
from tests.mirror.conftest import Catalog, Ran

SHA1, SHA2 = "1" * 40, "2" * 40
GOOD_ID, BAD_ID = "a" * 24, "b" * 24


def git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class FakeHub:
    """Answers the Hub API calls a sync makes, from `repos` (id -> sha and files); `broken` answers go wrong."""

    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)  # slug -> the collection's JSON
    broken: set[str] = field(default_factory=set)  # paths answered with truncated JSON
    throttle_once: set[str] = field(default_factory=set)  # paths answered 429 Retry-After: 1, once
    bodies: dict[str, bytes] = field(default_factory=dict)  # resolve path -> bytes sent
    hits: dict[str, int] = field(default_factory=dict)
    page_size: int | None = None  # the datasets listing in pages of this many (Link: rel="next"), or all at once
    broken_pages: set[int] = field(default_factory=set)  # listing pages (by first position) answered truncated
    statuses: dict[str, int] = field(default_factory=dict)  # paths answered with this status (and no body)
    url: str = ""

    def info(self, repo_id: str, sha: str | None = None) -> dict[str, Any]:
        """The repo's info at its head, or at an older commit of its `older` ones ({sha: files}, newest first)."""
        repo = self.repos[repo_id]
        files = repo["files"] if sha in (None, repo["sha"]) else repo["older"][sha]
        return {
            "_id": repo["_id"],
            "id": repo_id,
            "sha": sha or repo["sha"],
            "lastModified": repo["modified"],
            "createdAt": "2026-01-01T00:00:00.000Z",
            "private": False,
            "tags": ["mirrored"],
            "siblings": [{"rfilename": p, "size": len(d), "blobId": git_oid(d)} for p, d in files.items()],
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        if path in self.throttle_once:
            self.throttle_once.discard(path)
            return web.Response(status=429, headers={"Retry-After": "1"})
        if path in self.broken:
            return web.Response(body=b'{"_id": "aaaa', content_type="application/json")
        if path in self.statuses:
            return web.Response(status=self.statuses[path])
        if path in self.bodies:
            return web.Response(body=self.bodies[path])
        parts = path.split("/")
        if path in ("/api/models", "/api/spaces"):
            return web.json_response([])
        if path == "/api/collections":  # bob's, without positions, items cut to a preview
            owner = request.query.get("owner")
            listed = [
                {**{k: v for k, v in c.items() if k != "position"}, "items": c["items"][:4]}
                for slug, c in self.collections.items()
                if slug.split("/")[0] == owner
            ]
            return web.json_response(listed)
        if path.startswith("/api/collections/"):
            slug = path.removeprefix("/api/collections/")
            if slug not in self.collections:
                return web.json_response({"error": "Collection not found"}, status=404)
            return web.json_response(self.collections[slug])
        if path == "/api/datasets":
            listed = [
                {"id": k, "_id": r["_id"], "sha": r["sha"], "lastModified": r["modified"]}
                for k, r in self.repos.items()
            ]
            if self.page_size is None:
                return web.json_response(listed)
            start = int(request.query.get("cursor", "0"))
            if start in self.broken_pages:
                return web.Response(body=b'[{"id": "bob/', content_type="application/json")
            end = start + self.page_size
            more = {"Link": f'<{self.url}{path}?author=bob&cursor={end}>; rel="next"'} if end < len(listed) else {}
            return web.json_response(listed[start:end], headers=more)
        repo_id = "/".join(parts[3:5])
        if repo_id not in self.repos:
            return web.json_response({"error": "Repository not found"}, status=404)
        tail = parts[5:]
        if not tail:
            return web.json_response(self.info(repo_id))
        if tail[0] == "refs":
            sha = self.repos[repo_id]["sha"]
            return web.json_response({"branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": sha}]})
        if tail[0] == "commits":
            shas = [self.repos[repo_id]["sha"], *self.repos[repo_id].get("older", {})]
            return web.json_response(
                [{"id": sha, "title": "a commit", "message": "", "authors": [{"user": "bob"}]} for sha in shas]
            )
        if tail[0] == "revision" and tail[1] in (self.repos[repo_id]["sha"], *self.repos[repo_id].get("older", {})):
            return web.json_response(self.info(repo_id, tail[1]))
        return web.json_response({"error": "no such route"}, status=404)


@pytest_asyncio.fixture
async def fake_hub() -> AsyncIterator[FakeHub]:
    hub = FakeHub()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", hub.handle)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    hub.url = str(server.make_url("")).rstrip("/")
    try:
        yield hub
    finally:
        await server.close()


async def _info(catalog: Catalog, repo_id: str) -> tuple[int, Any]:
    status, _, body = await catalog.call("GET", f"/api/datasets/{repo_id}?blobs=true")
    return status, body


async def test_a_malformed_or_truncated_answer_fails_that_repo_alone_and_leaves_it_whole(
    catalog: Catalog, fake_hub: FakeHub, mirror_worker: object, hubstream: Any
) -> None:
    files_v1 = {"a.txt": b"one\n"}
    fake_hub.repos = {
        "bob/good": {"_id": GOOD_ID, "sha": SHA1, "modified": "2026-01-01T00:00:00.000Z", "files": files_v1},
        "bob/bad": {"_id": BAD_ID, "sha": SHA1, "modified": "2026-01-01T00:00:00.000Z", "files": files_v1},
    }
    fake_hub.broken = {"/api/datasets/bob/bad"}  # its info: truncated JSON
    added: Ran = await hubstream("mirror", "add", "fake", fake_hub.url, "--author", "bob")
    assert added.code == 0, added.err

    first: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert first.code == 1, first.out
    assert "bob/bad" in first.err
    assert "malformed JSON" in first.err
    assert "1 created" in first.err
    assert "1 failed" in first.err
    assert (await _info(catalog, "bob/good"))[1]["sha"] == SHA1
    assert (await _info(catalog, "bob/bad"))[0] == 404

    # Next: good changes upstream, but its refs answer is cut (after its info was read, and a 429 first);
    # bad is fixed. good must stay whole at its old state; bad is copied.
    fake_hub.repos["bob/good"] |= {"sha": SHA2, "modified": "2026-02-01T00:00:00.000Z", "files": {"b.txt": b"2"}}
    fake_hub.broken = {"/api/datasets/bob/good/refs"}
    fake_hub.throttle_once = {"/api/datasets/bob/good"}
    second: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert second.code == 1, second.out
    assert "bob/good" in second.err
    assert "bob/bad" not in second.err
    assert fake_hub.hits["/api/datasets/bob/good"] >= 2  # the 429 was retried
    status, good = await _info(catalog, "bob/good")
    assert status == 200
    assert good["sha"] == SHA1
    assert [s["rfilename"] for s in good["siblings"]] == ["a.txt"]
    assert good["lastModified"].startswith("2026-01-01")
    assert (await _info(catalog, "bob/bad"))[1]["sha"] == SHA1
    rows = await catalog.pool.fetch("SELECT sha FROM commits WHERE repo_id = $1", GOOD_ID)
    assert [r["sha"] for r in rows] == [SHA1]

    # The next sync carries on: good reaches its new state; bad, unchanged, is not fetched again.
    fake_hub.broken = set()
    bad_fetches = fake_hub.hits["/api/datasets/bob/bad"]
    third: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert third.code == 0, third.err
    assert "1 updated" in third.out
    assert "1 unchanged" in third.out
    assert fake_hub.hits["/api/datasets/bob/bad"] == bad_fetches
    status, good = await _info(catalog, "bob/good")
    assert good["sha"] == SHA2
    assert [s["rfilename"] for s in good["siblings"]] == ["b.txt"]


async def test_a_file_whose_bytes_differ_from_the_upstream_hash_is_never_cached(
    catalog: Catalog, fake_hub: FakeHub, mirror_worker: object, hubstream: Any
) -> None:
    fake_hub.repos = {
        "bob/good": {"_id": GOOD_ID, "sha": SHA1, "modified": "2026-01-01T00:00:00.000Z",
                     "files": {"lie.txt": b"truth", "ok.txt": b"fine"}},
    }  # fmt: skip
    resolve = f"/datasets/bob/good/resolve/{SHA1}"
    fake_hub.bodies = {f"{resolve}/lie.txt": b"lies!", f"{resolve}/ok.txt": b"fine"}
    assert (await hubstream("mirror", "add", "fake", fake_hub.url, "--repo", "dataset/bob/good")).code == 0
    synced: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert synced.code == 0, synced.err

    async with aiohttp.ClientSession() as http:
        for attempt in (1, 2):
            try:
                async with http.get(f"{catalog.url}/datasets/bob/good/resolve/main/lie.txt") as response:
                    got = await response.read()
            except aiohttp.ClientPayloadError:
                got = None
            assert got != b"lies!"  # the client never gets the whole wrong file
            assert fake_hub.hits[f"{resolve}/lie.txt"] == attempt  # not cached: asked upstream again
        async with http.get(f"{catalog.url}/datasets/bob/good/resolve/main/ok.txt") as response:
            assert await response.read() == b"fine"
        async with http.get(f"{catalog.url}/datasets/bob/good/resolve/main/ok.txt") as response:
            assert await response.read() == b"fine"
    assert fake_hub.hits[f"{resolve}/ok.txt"] == 1  # verified, cached: the second came from here
    known = {r["git_oid"] for r in await catalog.pool.fetch("SELECT git_oid FROM mirror_blob_ids")}
    assert known == {git_oid(b"fine")}


async def test_an_older_tree_the_upstream_answers_badly_is_a_502_and_is_not_stored(
    catalog: Catalog, fake_hub: FakeHub, mirror_worker: object, hubstream: Any
) -> None:
    """The tree of an older commit, fetched on its first read: garbage, a 5xx or the files of another commit are a
    502 naming the upstream (after two attempts), and nothing is stored, so a later read asks again and, answered
    well, stores it once; a sha outside the copied history is a 404 the upstream is never asked about."""
    garbage, failing, lying = "a" * 40, "b" * 40, "c" * 40
    older = {garbage: {"a.txt": b"one\n"}, failing: {"b.txt": b"two\n"}, lying: {"c.txt": b"three\n"}}
    fake_hub.repos = {
        "bob/good": {"_id": GOOD_ID, "sha": SHA2, "modified": "2026-01-01T00:00:00.000Z", "files": {"z": b"z"},
                     "older": older},
    }  # fmt: skip
    assert (await hubstream("mirror", "add", "fake", fake_hub.url, "--repo", "dataset/bob/good")).code == 0
    synced: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert synced.code == 0, synced.err
    revision = "/api/datasets/bob/good/revision/"
    fake_hub.broken = {revision + garbage}
    fake_hub.statuses = {revision + failing: 503}
    fake_hub.bodies = {revision + lying: orjson.dumps(fake_hub.info("bob/good", failing))}
    for sha, why in ((garbage, "malformed JSON"), (failing, "503"), (lying, "another commit")):
        status, headers, body = await catalog.call("GET", f"/api/datasets/bob/good/tree/{sha}")
        assert status == 502, (sha, status, body)
        assert headers["X-Error-Code"] == "UpstreamUnavailable"
        assert fake_hub.url in body["error"], body
        assert why in body["error"], body
    assert fake_hub.hits[revision + failing] == 2  # bounded: two attempts, then the answer
    stored = "SELECT count(*) FROM commit_files WHERE repo_id = $1 AND commit_sha = ANY($2::text[])"
    assert await catalog.pool.fetchval(stored, GOOD_ID, list(older)) == 0

    fake_hub.broken = set()  # answered well now: fetched, stored, then served from here
    for _ in range(2):
        status, _, body = await catalog.call("GET", f"/api/datasets/bob/good/tree/{garbage}")
        assert (status, [e["path"] for e in body]) == (200, ["a.txt"])
    assert fake_hub.hits[revision + garbage] == 2  # the bad answer, then the one that was stored
    assert await catalog.pool.fetchval(stored, GOOD_ID, list(older)) == 1

    status, headers, _ = await catalog.call("GET", f"/api/datasets/bob/good/tree/{'d' * 40}")
    assert (status, headers["X-Error-Code"]) == (404, "RevisionNotFound")
    assert revision + "d" * 40 not in fake_hub.hits


async def test_every_schedules_syncs_and_remove_deletes_the_copies(
    catalog: Catalog, fake_hub: FakeHub, mirror_worker: object, hubstream: Any
) -> None:
    fake_hub.repos = {
        "bob/good": {"_id": GOOD_ID, "sha": SHA1, "modified": "2026-01-01T00:00:00.000Z", "files": {"a": b"a"}}
    }
    shelf = f"bob/shelf-{'c' * 24}"
    fake_hub.collections = {shelf: collection(shelf, "Shelf", "2026-01-01T00:00:00.000Z", [item(0, "bob/good")])}
    added: Ran = await hubstream("mirror", "add", "fake", fake_hub.url, "--author", "bob", "--every", "1")
    assert added.code == 0, added.err

    async def copied() -> bool:  # no `mirror sync`: the schedule asks for it
        return (await _info(catalog, "bob/good"))[0] == 200 and (await _items(catalog, shelf))[0] == 200

    await wait_until(copied, timeout=30)
    requested = await catalog.events("hubstream.catalog.mirror.sync.requested.v1")
    assert [e["mirror"] for e in requested][:1] == ["fake"]
    shown: Ran = await hubstream("mirror", "status")
    assert "fake: " + fake_hub.url in shown.out
    assert "every 1 s" in shown.out
    assert "upstream: reachable" in shown.out

    removed: Ran = await hubstream("mirror", "remove", "fake")
    assert removed.code == 0, removed.err
    assert "1 copied repos and 1 copied collections" in removed.out
    assert (await _info(catalog, "bob/good"))[0] == 404
    assert (await _items(catalog, shelf))[0] == 404
    assert "bob/good" in [e["repo_id"] for e in await catalog.events("hubstream.catalog.repo.deleted.v1")]
    assert (await hubstream("mirror", "status", "fake")).code == 1


async def test_bad_operator_input_is_refused_in_words(catalog: Catalog, hubstream: Any) -> None:
    for args, words in (
        (("add", "x", "not-a-url", "--author", "a"), "is not an http(s) URL"),
        (("add", "x", "http://127.0.0.1:9", "--repo", "bob/good"), "is not TYPE/OWNER/NAME"),
        (("add", "x", "http://127.0.0.1:9", "--collection", "bob/shelf"), "is not a collection slug"),
        (("add", "x", "http://127.0.0.1:9"), "say what to follow"),
        (("add", "x", "http://127.0.0.1:9", "--author", "a", "--every", "0"), "--every takes"),
        (("sync", "nope"), "no mirror named 'nope'"),
        (("remove", "nope"), "no mirror named 'nope'"),
    ):
        ran: Ran = await hubstream("mirror", *args)
        assert ran.code == 1, args
        assert words in ran.err, ran.err
    assert (await hubstream("mirror", "add", "x", "http://127.0.0.1:9", "--author", "a")).code == 0
    again: Ran = await hubstream("mirror", "add", "x", "http://127.0.0.1:9", "--author", "a")
    assert again.code == 1
    assert "exists" in again.err


def collection(slug: str, title: str, updated: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "_id": slug[-24:],
        "slug": slug,
        "title": title,
        "description": None,
        "owner": {"name": slug.split("/")[0], "type": "user"},
        "items": items,
        "lastUpdated": updated,
        "position": 0,
        "private": False,
        "theme": "blue",
        "upvotes": 2,
        "gating": {"mode": "auto"},
    }


def item(n: int, repo_id: str, note: str | None = None) -> dict[str, Any]:
    shown = {"_id": f"{n:024x}", "id": repo_id, "type": "model", "position": n, "author": repo_id.split("/")[0]}
    return shown | ({"note": {"text": note, "html": f"<p>{note}</p>"}} if note is not None else {})


async def _items(catalog: Catalog, slug: str) -> tuple[int, Any]:
    status, _, body = await catalog.call("GET", f"/api/collections/{slug}")
    return status, [(i["id"], i.get("note", {}).get("text")) for i in body["items"]] if status == 200 else body


async def test_a_malformed_or_truncated_collection_fails_alone_and_is_never_half_written(
    catalog: Catalog, fake_hub: FakeHub, mirror_worker: object, hubstream: Any
) -> None:
    good, bad, odd = f"bob/good-{'c' * 24}", f"bob/bad-{'d' * 24}", f"bob/odd-{'e' * 24}"
    day1, day2 = "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"
    fake_hub.collections = {
        good: collection(good, "Good", day1, [item(0, "bob/x", "one"), item(1, "bob/y")]),
        bad: collection(bad, "Bad", day1, [item(2, "bob/x")]),
        odd: collection(odd, "Odd", day1, [item(3, "bob/x"), {"id": "bob/z", "type": "model", "position": 1}]),
    }
    fake_hub.broken = {f"/api/collections/{bad}"}  # truncated JSON
    assert (await hubstream("mirror", "add", "fake", fake_hub.url, "--author", "bob")).code == 0

    first: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert first.code == 1, first.out
    assert f"collection {bad}" in first.err
    assert "malformed JSON" in first.err
    assert f"collection {odd}" in first.err
    assert "`_id` is missing" in first.err  # an item without its id
    assert "collections: 1 created, 0 updated, 0 deleted, 0 unchanged, 2 failed" in first.err
    assert await _items(catalog, good) == (200, [("bob/x", "one"), ("bob/y", None)])
    assert (await _items(catalog, bad))[0] == 404
    assert (await _items(catalog, odd))[0] == 404
    status, _, body = await catalog.call("GET", f"/api/collections/{good}")
    assert {k: body[k] for k in ("slug", "upvotes", "gating", "theme")} == {
        "slug": good,
        "upvotes": 2,
        "gating": {"mode": "auto"},
        "theme": "blue",
    }

    # good changes upstream (retitled), but lists an item twice, which only writing it finds out: it must stay
    # whole at its old state; bad is fixed and copied.
    fake_hub.collections[good] = collection(good, "Good, renamed", day2, [item(0, "bob/x", "two"), item(1, "bob/x")])
    del fake_hub.collections[odd]
    fake_hub.broken = set()
    second: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert second.code == 1, second.out
    assert f"collection {good}" in second.err
    assert "lists the same item twice" in second.err
    assert bad not in second.err
    assert "collections: 1 created, 0 updated, 0 deleted, 0 unchanged, 1 failed" in second.err
    status, _, body = await catalog.call("GET", f"/api/collections/{good}")
    assert status == 200
    assert (body["title"], body["lastUpdated"][:19]) == ("Good", "2026-01-01T00:00:00")
    assert await _items(catalog, good) == (200, [("bob/x", "one"), ("bob/y", None)])
    assert await _items(catalog, bad) == (200, [("bob/x", None)])

    # The next sync carries on: good reaches its new state; bad, unchanged in the listing, is not asked for again.
    fake_hub.collections[good]["items"][1] = item(1, "bob/z", "changed")
    bad_fetches = fake_hub.hits[f"/api/collections/{bad}"]
    third: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert third.code == 0, third.err
    assert "collections: 0 created, 1 updated, 0 deleted, 1 unchanged, 0 failed" in third.out
    assert fake_hub.hits[f"/api/collections/{bad}"] == bad_fetches
    assert await _items(catalog, good) == (200, [("bob/x", "two"), ("bob/z", "changed")])

    # Titles swapped upstream (they are unique per owner, here too): both copies follow.
    day3 = "2026-03-01T00:00:00.000Z"
    for slug, title in ((good, "Bad"), (bad, "Good, renamed")):
        fake_hub.collections[slug] |= {"title": title, "lastUpdated": day3}
    swapped: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert swapped.code == 0, swapped.err
    assert "collections: 0 created, 2 updated, 0 deleted, 0 unchanged, 0 failed" in swapped.out
    for slug, title in ((good, "Bad"), (bad, "Good, renamed")):
        assert (await catalog.call("GET", f"/api/collections/{slug}"))[2]["title"] == title

    # A listing cut short proves nothing: nothing is deleted; read to its end without bad, bad goes.
    del fake_hub.collections[bad]
    fake_hub.broken = {"/api/collections"}
    fourth: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert fourth.code == 1, fourth.out
    assert "listing the collections of bob" in fourth.err
    assert (await _items(catalog, bad))[0] == 200
    fake_hub.broken = set()
    fifth: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert fifth.code == 0, fifth.err
    assert "collections: 0 created, 0 updated, 1 deleted, 1 unchanged, 0 failed" in fifth.out
    assert (await _items(catalog, bad))[0] == 404


async def test_a_repo_renamed_upstream_is_moved_and_a_known_blob_keeps_its_sha256(
    catalog: Catalog, fake_hub: FakeHub, mirror_worker: object, hubstream: Any
) -> None:
    """Renamed upstream (same id, new name): the copy moves to the new name, keeping the id. A regular file whose
    content was downloaded before is copied with its sha256 already known (the blob store's key)."""
    fake_hub.repos = {
        "bob/old": {"_id": GOOD_ID, "sha": SHA1, "modified": "2026-01-01T00:00:00.000Z", "files": {"a.txt": b"A"}}
    }
    assert (await hubstream("mirror", "add", "fake", fake_hub.url, "--author", "bob")).code == 0
    assert (await hubstream("mirror", "sync", "fake", "--wait")).code == 0
    fake_hub.bodies = {f"/datasets/bob/old/resolve/{SHA1}/a.txt": b"A"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{catalog.url}/datasets/bob/old/resolve/main/a.txt") as response,
    ):
        assert await response.read() == b"A"

    fake_hub.repos = {
        "bob/new": {"_id": GOOD_ID, "sha": SHA2, "modified": "2026-02-01T00:00:00.000Z", "files": {"a.txt": b"A"}}
    }
    moved: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert moved.code == 0, moved.err
    assert (await _info(catalog, "bob/old"))[0] in (307, 404)
    status, new = await _info(catalog, "bob/new")
    assert status == 200, new
    assert (new["_id"], new["sha"]) == (GOOD_ID, SHA2)
    deleted = [e["repo_id"] for e in await catalog.events("hubstream.catalog.repo.deleted.v1")]
    assert deleted == ["bob/old"]  # once, by the move; the copy under the new name is not deleted after it
    stored = await catalog.pool.fetchval(
        "SELECT sha256 FROM commit_files WHERE repo_id = $1 AND commit_sha = $2 AND path = 'a.txt'", GOOD_ID, SHA2
    )
    assert stored == hashlib.sha256(b"A").hexdigest()


async def test_an_unchanged_listing_costs_no_call_per_repo_and_a_cut_listing_deletes_nothing(
    catalog: Catalog, fake_hub: FakeHub, mirror_worker: object, hubstream: Any
) -> None:
    fake_hub.page_size = 2  # 5 repos: 3 pages
    fake_hub.repos = {
        f"bob/r{i}": {"_id": f"{i:024x}", "sha": SHA1, "modified": "2026-01-01T00:00:00.000Z", "files": {"a": b"a"}}
        for i in range(5)
    }
    assert (await hubstream("mirror", "add", "fake", fake_hub.url, "--author", "bob")).code == 0
    first: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert first.code == 0, first.err
    assert "5 created" in first.out

    # Nothing changed: the listing's pages are read, and no repo is asked about on its own.
    fake_hub.hits.clear()
    second: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert second.code == 0, second.err
    assert "5 unchanged" in second.out
    assert fake_hub.hits.get("/api/datasets") == 3
    assert [p for p in fake_hub.hits if p.startswith("/api/datasets/")] == []

    # r4 goes upstream, but the listing's second page comes back cut: the listing proves nothing, so nothing
    # is deleted here (r4 is absent only because the listing was not read to its end).
    del fake_hub.repos["bob/r4"]
    fake_hub.broken_pages = {2}
    cut: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert cut.code == 1, cut.out
    assert "listing datasets" in cut.err
    assert "0 deleted, 2 unchanged" in cut.err  # r0 and r1, on the page before the cut
    for i in range(5):
        assert (await _info(catalog, f"bob/r{i}"))[0] == 200

    # Read to its end, the listing no longer shows r4: it is deleted here, with its event.
    fake_hub.broken_pages = set()
    whole: Ran = await hubstream("mirror", "sync", "fake", "--wait")
    assert whole.code == 0, whole.err
    assert "1 deleted" in whole.out
    assert (await _info(catalog, "bob/r4"))[0] == 404
    assert "bob/r4" in [e["repo_id"] for e in await catalog.events("hubstream.catalog.repo.deleted.v1")]
