"""Reads of a mirrored repo at an older commit, one whose tree the sync did not copy (it copies the trees of the
commits the refs point at), through the unmodified `huggingface_hub` client.

The upstream (a second catalog process) holds a private dataset with three commits: files added, changed and
deleted between them. After `hubstream mirror sync --wait`, the mirror answers list_repo_tree, get_paths_info,
repo_info and hf_hub_download at the oldest commit exactly as the upstream does (the tree is fetched from the
upstream on the first read, with the mirror's token, and stored; concurrent first reads neither fail nor store it
twice). The upstream gets a new commit and the mirror syncs again, then the upstream is stopped: that tree, the old
head's and the file downloaded at the old commit still serve, while the tree of the other uncopied commit gets a 502
naming the upstream (from every read of it), never an empty tree.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

from tests.compat.conftest import CLIENT_WARNINGS
from tests.mirror.conftest import Catalog, Ran, Upstream

pytestmark = CLIENT_WARNINGS

WEIGHTS_1 = os.urandom(150_000)  # LFS by the default .gitattributes (*.bin)
WEIGHTS_3 = os.urandom(120_000)
REPO = "alice/history"
PATHS = ["data.csv", "old.txt", "sub", "sub/deep.txt", "weights.bin", "new.txt", "missing.txt"]


def _tree(api: HfApi, revision: str) -> list[tuple[Any, ...]]:
    """The whole tree at `revision` as a client sees it: every entry's kind, path, size, blob id and LFS hash."""
    return sorted(_entry(e) for e in api.list_repo_tree(REPO, repo_type="dataset", revision=revision, recursive=True))


def _entry(e: Any) -> tuple[Any, ...]:
    if hasattr(e, "size"):
        return ("file", e.path, e.size, e.blob_id, e.lfs.sha256 if e.lfs else None)
    return ("folder", e.path, e.tree_id)


def _view(api: HfApi, revision: str) -> dict[str, Any]:
    return {
        "tree": _tree(api, revision),
        "paths_info": sorted(
            _entry(e) for e in api.get_paths_info(REPO, PATHS, repo_type="dataset", revision=revision)
        ),
        "siblings": sorted(
            (s.rfilename, s.size, s.blob_id, s.lfs.sha256 if s.lfs else None)
            for s in api.dataset_info(REPO, revision=revision, files_metadata=True).siblings or []
        ),
    }


async def test_a_mirror_reads_older_commits_from_its_upstream_and_says_so_when_it_is_down(
    catalog: Catalog, upstream: Upstream, mirror_worker: object, hubstream: Any, tmp_path: Path
) -> None:
    alice = await upstream.user("alice")
    up = HfApi(endpoint=upstream.url, token=alice)

    def history() -> list[str]:
        # Private upstream: only the mirror's token reads it, so every fetch from it must send that token.
        up.create_repo(REPO, repo_type="dataset", private=True)
        one = [
            CommitOperationAdd("data.csv", b"a,b\n1,2\n"),
            CommitOperationAdd("old.txt", b"old\n"),
            CommitOperationAdd("sub/deep.txt", b"deep\n"),
            CommitOperationAdd("weights.bin", WEIGHTS_1),
        ]
        two = [
            CommitOperationAdd("data.csv", b"a,b\n1,2\n3,4\n"),
            CommitOperationDelete("old.txt"),
            CommitOperationAdd("new.txt", b"new\n"),
        ]
        three = [CommitOperationAdd("weights.bin", WEIGHTS_3), CommitOperationDelete("sub/deep.txt")]
        for title, operations in (("one", one), ("two", two), ("three", three)):
            up.create_commit(REPO, operations, commit_message=title, repo_type="dataset")
        return [c.commit_id for c in up.list_repo_commits(REPO, repo_type="dataset")]

    head, second, first, *_ = await asyncio.to_thread(history)
    added: Ran = await hubstream("mirror", "add", "up", upstream.url, "--token", alice, "--repo", f"dataset/{REPO}")
    assert added.code == 0, added.err
    synced: Ran = await hubstream("mirror", "sync", "up", "--wait")
    assert synced.code == 0, synced.err + synced.out
    assert "1 created" in synced.out
    reader = await catalog.user("alice")  # the copy is private here too: its owner reads it
    here = HfApi(endpoint=catalog.url, token=reader)

    # Concurrent first reads of the uncopied tree: every one answers the upstream's tree, and it is stored once.
    path = f"/api/datasets/{REPO}/tree/{first}?recursive=true"
    answers = await asyncio.gather(*(catalog.call("GET", path, token=reader) for _ in range(6)))
    up_first = await asyncio.to_thread(_view, up, first)
    assert [status for status, _, _ in answers] == [200] * 6, answers
    assert all(body == answers[0][2] for _, _, body in answers)
    files_at_first = [e for e in up_first["tree"] if e[0] == "file"]
    stored = await catalog.pool.fetchval(
        "SELECT count(*) FROM commit_files f JOIN repos r ON r.id = f.repo_id WHERE r.name = 'history' "
        "AND f.commit_sha = $1",
        first,
    )
    assert stored == len(files_at_first) == 5  # .gitattributes, data.csv, old.txt, sub/deep.txt, weights.bin

    def same_as_upstream() -> None:
        assert _view(here, first) == up_first
        assert _view(here, head) == _view(up, head)
        assert {e[1] for e in up_first["tree"]} >= {"old.txt", "sub/deep.txt"}  # deleted later: really the old tree
        for name in ("weights.bin", "data.csv", "old.txt"):
            ours = hf_hub_download(REPO, name, repo_type="dataset", revision=first, endpoint=catalog.url,
                                   token=reader, cache_dir=tmp_path / "here")  # fmt: skip
            theirs = hf_hub_download(REPO, name, repo_type="dataset", revision=first, endpoint=upstream.url,
                                     token=alice, cache_dir=tmp_path / "up")  # fmt: skip
            assert Path(ours).read_bytes() == Path(theirs).read_bytes(), name
        assert Path(theirs).read_bytes() == b"old\n"
        # A commit that is not in the mirrored repo's history is not asked of the upstream: 404 as for any repo.
        with pytest.raises(HfHubHTTPError) as unknown:
            list(here.list_repo_tree(REPO, repo_type="dataset", revision="0" * 40))
        assert unknown.value.response.status_code == 404
        assert unknown.value.response.headers["X-Error-Code"] == "RevisionNotFound"

    await asyncio.to_thread(same_as_upstream)
    up_head = await asyncio.to_thread(_view, up, head)

    # The upstream moves on and the mirror syncs again: the trees it has (fetched or copied) stay with their commits.
    await asyncio.to_thread(up.upload_file, path_or_fileobj=b"four\n", path_in_repo="four.txt", repo_id=REPO,
                            repo_type="dataset")  # fmt: skip
    again: Ran = await hubstream("mirror", "sync", "up", "--wait")
    assert again.code == 0, again.err + again.out
    assert "1 updated" in again.out
    await asyncio.to_thread(upstream.stop)

    def offline() -> None:
        # Fetched once: served from here, the tree and the files downloaded from it (fresh client cache); and the
        # old head's tree, copied by the first sync.
        assert _view(here, first) == up_first
        assert _view(here, head) == up_head
        got = hf_hub_download(REPO, "weights.bin", repo_type="dataset", revision=first, endpoint=catalog.url,
                              token=reader, cache_dir=tmp_path / "offline")  # fmt: skip
        assert Path(got).read_bytes() == WEIGHTS_1
        with pytest.raises(HfHubHTTPError) as down:
            here.get_paths_info(REPO, ["data.csv"], repo_type="dataset", revision=second)  # (the tree listing retries)
        assert down.value.response.status_code == 502

    await asyncio.to_thread(offline)
    # Never copied, upstream down: the Hub's error shape naming the upstream, for every read of that tree.
    for method, url, data in (
        ("GET", f"/api/datasets/{REPO}/tree/{second}", None),
        ("POST", f"/api/datasets/{REPO}/paths-info/{second}", {"paths": "data.csv"}),
        ("GET", f"/api/datasets/{REPO}/revision/{second}", None),
        ("GET", f"/datasets/{REPO}/resolve/{second}/new.txt", None),
    ):
        status, headers, body = await catalog.call(method, url, token=reader, data=data)
        assert status == 502, (url, status, body)
        assert headers["X-Error-Code"] == "UpstreamUnavailable"
        assert upstream.url in body["error"], body
        assert second in body["error"], body
