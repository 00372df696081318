"""A mirror of a second catalog process, seen through the unmodified `huggingface_hub` client.

The upstream gets new repos, commits, a tag, a deleted repo and a changed collection (retitled, an item added,
one removed, a note changed); after `hubstream mirror sync NAME --wait` the mirror shows exactly those changes
(and copied nothing unchanged); collections deleted upstream go at the next sync; then the upstream is stopped:
cached files still download byte-identical, an uncached one fails with a 502 naming the upstream, `mirror status`
says the upstream is unreachable, and a sync fails saying so.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from huggingface_hub import Collection, CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.compat.conftest import CLIENT_WARNINGS
from tests.mirror.conftest import Catalog, Ran, Upstream

pytestmark = CLIENT_WARNINGS

README = b"---\nlicense: mit\ntags:\n- mirrored\n---\n# ds1\n"
WEIGHTS = os.urandom(200_000)  # LFS by the default .gitattributes (*.bin)


def _view(api: HfApi, repo_id: str, repo_type: str = "dataset") -> dict[str, Any]:
    """What a client sees of a repo: ids, head, files with sizes and hashes, card, refs, history."""
    info = api.repo_info(repo_id, repo_type=repo_type, files_metadata=True)
    refs = api.list_repo_refs(repo_id, repo_type=repo_type)
    return {
        "sha": info.sha,
        "siblings": sorted(
            (s.rfilename, s.size, s.blob_id, s.lfs.sha256 if s.lfs else None) for s in info.siblings or []
        ),
        "card": info.card_data.to_dict() if info.card_data else None,
        "tags": sorted(info.tags or []),
        "branches": sorted((b.name, b.target_commit) for b in refs.branches),
        "ref_tags": sorted((t.name, t.target_commit) for t in refs.tags),
        "commits": [(c.commit_id, c.title) for c in api.list_repo_commits(repo_id, repo_type=repo_type)],
    }


def _collection(collection: Collection) -> dict[str, Any]:
    """What a client sees of a collection: its fields, and its items with their ids, types, positions and notes."""
    return {
        "slug": collection.slug,
        "title": collection.title,
        "description": collection.description,
        "owner": collection.owner["name"],
        "theme": collection.theme,
        "private": collection.private,
        "position": collection.position,
        "upvotes": collection.upvotes,
        "last_updated": collection.last_updated,
        "items": [(i.item_object_id, i.item_type, i.item_id, i.position, i.note) for i in collection.items],
    }


async def test_a_mirror_follows_its_upstream_and_serves_cached_files_when_it_is_down(
    catalog: Catalog, upstream: Upstream, mirror_worker: object, hubstream: Any, tmp_path: Path
) -> None:
    alice = await upstream.user("alice")
    bob = await upstream.user("bob")
    up = HfApi(endpoint=upstream.url, token=alice)
    up_bob = HfApi(endpoint=upstream.url, token=bob)
    here = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    anonymous = HfApi(endpoint=catalog.url, token=False)
    slugs: dict[str, str] = {}

    def first_state() -> None:
        for name in ("ds1", "ds2"):
            up.create_repo(f"alice/{name}", repo_type="dataset")
        up.create_repo("alice/m1")
        up.create_commit(
            "alice/ds1",
            [
                CommitOperationAdd("README.md", README),
                CommitOperationAdd("data.csv", b"a,b\n1,2\n"),
                CommitOperationAdd("weights.bin", WEIGHTS),
            ],
            commit_message="first data",
            repo_type="dataset",
        )
        up.upload_file(path_or_fileobj=b"gone soon", path_in_repo="x.txt", repo_id="alice/ds2", repo_type="dataset")
        up.upload_file(path_or_fileobj=b"model", path_in_repo="config.json", repo_id="alice/m1")
        # Collections: alice's (followed through --author: a public one and a private one the token sees), and
        # one of bob's, followed by its slug; bob/outside is a repo the mirror does not follow.
        up_bob.create_repo("bob/outside")
        picks = up.create_collection("Alice picks", description="what we use")
        up.add_collection_item(picks.slug, "alice/m1", "model", note="the base model")
        up.add_collection_item(picks.slug, "alice/ds1", "dataset")
        up.add_collection_item(picks.slug, "bob/outside", "model", note="not mirrored")
        secret = up.create_collection("Secret stash", private=True)
        up.add_collection_item(secret.slug, "alice/m1", "model")
        shelf = up_bob.create_collection("Bob shelf")
        up_bob.add_collection_item(shelf.slug, "alice/ds1", "dataset", note="read this")
        slugs.update(picks=picks.slug, secret=secret.slug, shelf=shelf.slug)

    await asyncio.to_thread(first_state)
    added: Ran = await hubstream("mirror", "add", "up", upstream.url, "--token", alice, "--author", "alice",
                                 "--collection", slugs["shelf"])  # fmt: skip
    assert added.code == 0, added.err
    assert "not copy" not in added.out
    first: Ran = await hubstream("mirror", "sync", "up", "--wait")
    assert first.code == 0, first.err + first.out
    assert "3 created" in first.out
    assert "collections: 3 created, 0 updated, 0 deleted, 0 unchanged, 0 failed" in first.out
    assert "created dataset alice/ds1" in first.out
    assert f"created collection {slugs['picks']}" in first.out

    def collections_copied() -> None:
        for key in ("picks", "shelf"):  # under the upstream's slug, with the upstream's ids, as the upstream shows
            assert _collection(here.get_collection(slugs[key])) == _collection(up.get_collection(slugs[key])), key
        # An item naming a repo the mirror does not follow is kept as the upstream lists it.
        outside = [i for i in here.get_collection(slugs["picks"]).items if i.item_id == "bob/outside"]
        assert [(i.item_type, i.note) for i in outside] == [("model", "not mirrored")]
        assert {c.slug for c in anonymous.list_collections(owner="alice")} == {slugs["picks"]}
        # The private one stays private: only alice (here too) sees it.
        with pytest.raises(HfHubHTTPError) as hidden:
            anonymous.get_collection(slugs["secret"])
        assert hidden.value.response.status_code == 404

    await asyncio.to_thread(collections_copied)
    alice_here = HfApi(endpoint=catalog.url, token=await catalog.user("alice"))
    secret_here = await asyncio.to_thread(alice_here.get_collection, slugs["secret"])
    assert _collection(secret_here) == _collection(await asyncio.to_thread(up.get_collection, slugs["secret"]))
    assert secret_here.private

    def cache_some() -> None:
        # Downloaded once while the upstream is up: fetched from it, streamed, verified, cached here.
        got = hf_hub_download("alice/ds1", "weights.bin", repo_type="dataset", endpoint=catalog.url,
                              token=catalog.admin_token, cache_dir=tmp_path / "c1")  # fmt: skip
        assert Path(got).read_bytes() == WEIGHTS

    await asyncio.to_thread(cache_some)

    def change_upstream() -> None:
        up.create_repo("alice/ds3", repo_type="dataset")
        up.upload_file(path_or_fileobj=b"never fetched", path_in_repo="cold.txt", repo_id="alice/ds3",
                       repo_type="dataset")  # fmt: skip
        up.create_commit(
            "alice/ds1",
            [CommitOperationAdd("data.csv", b"a,b\n1,2\n3,4\n"), CommitOperationAdd("new.txt", b"new text\n")],
            commit_message="more data",
            repo_type="dataset",
        )
        up.create_tag("alice/ds1", tag="v1", repo_type="dataset")
        up.delete_repo("alice/ds2", repo_type="dataset")
        # The changed collection: retitled (a new slug), an item added, one removed, a note changed.
        picks = up.update_collection_metadata(slugs["picks"], title="Alice favourites")
        items = {i.item_id: i.item_object_id for i in picks.items}
        up.add_collection_item(picks.slug, "alice/ds3", "dataset", note="new")
        up.delete_collection_item(picks.slug, items["alice/ds1"])
        up.update_collection_item(picks.slug, items["alice/m1"], note="the better base model")
        slugs.update(old_picks=slugs["picks"], picks=picks.slug)

    await asyncio.to_thread(change_upstream)
    second: Ran = await hubstream("mirror", "sync", "up", "--wait")
    assert second.code == 0, second.err + second.out
    assert "1 created, 1 updated, 1 deleted, 1 unchanged, 0 failed" in second.out
    assert "collections: 0 created, 1 updated, 0 deleted, 2 unchanged, 0 failed" in second.out
    assert {
        "created dataset alice/ds3",
        "updated dataset alice/ds1",
        "deleted dataset alice/ds2",
        f"updated collection {slugs['picks']}",
    } <= {line.strip() for line in second.out.splitlines()}

    def compare() -> None:
        assert {d.id for d in here.list_datasets(author="alice")} == {"alice/ds1", "alice/ds3"}
        assert {m.id for m in here.list_models(author="alice")} == {"alice/m1"}
        for repo_id, repo_type in (("alice/ds1", "dataset"), ("alice/ds3", "dataset"), ("alice/m1", "model")):
            assert _view(here, repo_id, repo_type) == _view(up, repo_id, repo_type), repo_id
        ds1 = here.dataset_info("alice/ds1")
        assert ds1.card_data["license"] == "mit"
        assert ds1.id == "alice/ds1"
        assert ("v1", up.dataset_info("alice/ds1").sha) in _view(here, "alice/ds1")["ref_tags"]
        with pytest.raises(RepositoryNotFoundError):
            here.dataset_info("alice/ds2")
        # Read-only: a write gets the Hub's 403, with our code.
        with pytest.raises(HfHubHTTPError) as refused:
            here.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/ds1", repo_type="dataset")
        assert refused.value.response.status_code == 403
        assert refused.value.response.headers["X-Error-Code"] == "MirrorReadOnly"
        with pytest.raises(HfHubHTTPError) as refused:
            here.delete_repo("alice/ds1", repo_type="dataset")
        assert refused.value.response.status_code == 403
        got = hf_hub_download("alice/ds1", "new.txt", repo_type="dataset", endpoint=catalog.url,
                              token=catalog.admin_token, cache_dir=tmp_path / "c2")  # fmt: skip
        assert Path(got).read_bytes() == b"new text\n"

    def compare_collections() -> None:
        for key in ("picks", "shelf"):
            assert _collection(here.get_collection(slugs[key])) == _collection(up.get_collection(slugs[key])), key
        picks = here.get_collection(slugs["old_picks"])  # the old slug still finds it, as on the Hub
        assert (picks.slug, picks.title) == (slugs["picks"], "Alice favourites")
        assert [(i.item_id, i.note) for i in picks.items] == [
            ("alice/m1", "the better base model"),
            ("bob/outside", "not mirrored"),
            ("alice/ds3", "new"),
        ]
        assert [c.title for c in here.list_collections(owner="alice", item="datasets/alice/ds3")] == [picks.title]
        assert [c.title for c in here.list_collections(item="models/bob/outside")] == [picks.title]
        # Read-only: a write gets the Hub's 403, as mirrored repos do.
        for write in (
            lambda: here.update_collection_metadata(slugs["picks"], title="mine now"),
            lambda: here.add_collection_item(slugs["picks"], "alice/ds1", "dataset"),
            lambda: here.update_collection_item(slugs["picks"], picks.items[0].item_object_id, note="no"),
            lambda: here.delete_collection_item(slugs["picks"], picks.items[0].item_object_id),
            lambda: here.delete_collection(slugs["shelf"]),
        ):
            with pytest.raises(HfHubHTTPError) as refused:
                write()
            assert refused.value.response.status_code == 403
            assert refused.value.response.headers["X-Error-Code"] == "MirrorReadOnly"
        assert _collection(here.get_collection(slugs["picks"])) == _collection(up.get_collection(slugs["picks"]))

    await asyncio.to_thread(compare)
    await asyncio.to_thread(compare_collections)
    # The upstream ids are kept, and the changes were announced as local changes are.
    ids = {r["namespace"] + "/" + r["name"]: r["id"] for r in await catalog.pool.fetch("SELECT * FROM repos")}
    async with aiohttp.ClientSession() as http, http.get(f"{upstream.url}/api/datasets?author=alice") as listed:
        up_ids = {d["id"]: d["_id"] for d in await listed.json()}
    assert {k: ids[k] for k in up_ids} == up_ids
    assert "alice/ds3" in [e["repo_id"] for e in await catalog.events("hubstream.catalog.repo.created.v1")]
    updated = [e for e in await catalog.events("hubstream.catalog.repo.updated.v1") if e["repo_id"] == "alice/ds1"]
    assert updated[-1]["changed_paths"] == ["data.csv", "new.txt"]
    assert "alice/ds2" in [e["repo_id"] for e in await catalog.events("hubstream.catalog.repo.deleted.v1")]
    completed = await catalog.events("hubstream.catalog.mirror.sync.completed.v1")
    assert completed[-1]["counts"] == {
        "created": 1,
        "updated": 1,
        "deleted": 1,
        "unchanged": 1,
        "failed": 0,
        "collections": {"created": 0, "updated": 1, "deleted": 0, "unchanged": 2, "failed": 0},
    }

    # Collections deleted upstream go here at the next sync: one gone from alice's listing, one followed by slug.
    def delete_collections() -> None:
        up.delete_collection(slugs["picks"])
        up_bob.delete_collection(slugs["shelf"])

    await asyncio.to_thread(delete_collections)
    third: Ran = await hubstream("mirror", "sync", "up", "--wait")
    assert third.code == 0, third.err + third.out
    assert "0 created, 0 updated, 0 deleted, 3 unchanged, 0 failed" in third.out
    assert "collections: 0 created, 0 updated, 2 deleted, 1 unchanged, 0 failed" in third.out
    assert f"deleted collection {slugs['shelf']}" in third.out

    def collections_gone() -> None:
        for key in ("picks", "shelf"):
            with pytest.raises(HfHubHTTPError) as gone:
                here.get_collection(slugs[key])
            assert gone.value.response.status_code == 404
        assert list(anonymous.list_collections(owner="alice")) == []

    await asyncio.to_thread(collections_gone)
    shown_up: Ran = await hubstream("mirror", "status", "up")
    assert f"collection {slugs['shelf']}" in shown_up.out
    assert "collections: 0 created, 0 updated, 2 deleted, 1 unchanged, 0 failed" in shown_up.out

    await asyncio.to_thread(upstream.stop)

    def offline() -> None:
        for name, data in (("weights.bin", WEIGHTS), ("new.txt", b"new text\n")):
            got = hf_hub_download("alice/ds1", name, repo_type="dataset", endpoint=catalog.url,
                                  token=catalog.admin_token, cache_dir=tmp_path / "c3")  # fmt: skip
            assert Path(got).read_bytes() == data, name

    await asyncio.to_thread(offline)
    status, headers, body = await catalog.call("GET", "/datasets/alice/ds3/resolve/main/cold.txt")
    assert status == 502
    assert headers["X-Error-Code"] == "UpstreamUnavailable"
    assert upstream.url in body["error"]
    assert "not cached" in body["error"]
    shown: Ran = await hubstream("mirror", "status", "up")
    assert shown.code == 0, shown.err
    assert "UNREACHABLE" in shown.out, shown.out
    failed: Ran = await hubstream("mirror", "sync", "up", "--wait")
    assert failed.code == 1, failed.out
    assert "unreachable" in failed.err, failed.err
    # Nothing was deleted because the upstream did not answer.
    assert {d.id for d in await asyncio.to_thread(lambda: list(here.list_datasets(author="alice")))} == {
        "alice/ds1",
        "alice/ds3",
    }
