"""Pull requests from readers, with the unmodified `huggingface_hub` client: someone who may read a public repo
but not write to it opens a PR with `create_pr=True` (inline and LFS files) or pushes to a PR of their own, and
the owner merges it; a branch stays closed to them (403), a private repo stays invisible (404), a mirrored copy
stays read-only, and the LFS objects a reader uploads serve only their own PR commits."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import orjson
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.compat.conftest import CLIENT_WARNINGS, Catalog

pytestmark = [CLIENT_WARNINGS]

DATASET = "dataset"


def _lfs_commit(path: str, oid: str, size: int) -> bytes:
    """A raw NDJSON commit naming one LFS object (what the client sends once the object is uploaded)."""
    lines = [
        {"key": "header", "value": {"summary": f"add {path}", "description": ""}},
        {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}},
    ]
    return b"\n".join(orjson.dumps(line) for line in lines)


async def test_a_reader_opens_a_pull_request_that_the_owner_merges(catalog: Catalog, tmp_path: Path) -> None:
    bob_token = await catalog.user("bob")
    carol_token = await catalog.user("carol")
    alice_token = await catalog.user("alice")
    alice = HfApi(endpoint=catalog.url, token=alice_token)
    bob = HfApi(endpoint=catalog.url, token=bob_token)
    repo = "alice/shared"
    weights = os.urandom(3000) + b"\x00"  # binary: the catalog asks for it through LFS
    weights_oid = hashlib.sha256(weights).hexdigest()

    def session() -> int:
        alice.create_repo("shared", repo_type=DATASET)
        alice.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=repo, repo_type=DATASET)
        main_before = alice.dataset_info(repo).sha

        # An inline file opens the PR; an LFS file then goes to the PR's own ref.
        opened = bob.upload_file(
            path_or_fileobj=b"notes from bob\n", path_in_repo="notes.txt", repo_id=repo, repo_type=DATASET,
            commit_message="Add notes", create_pr=True,
        )  # fmt: skip
        assert (opened.pr_num, opened.pr_revision) == (1, "refs/pr/1")
        pushed = bob.upload_file(
            path_or_fileobj=weights, path_in_repo="weights.bin", repo_id=repo, repo_type=DATASET,
            revision=opened.pr_revision, commit_message="Add weights",
        )  # fmt: skip
        assert pushed.oid == alice.dataset_info(repo, revision="refs/pr/1").sha
        lfs_pr = bob.create_commit(
            repo, [CommitOperationAdd("more.bin", os.urandom(2000) + b"\x00")], commit_message="More weights",
            repo_type=DATASET, create_pr=True,
        )  # fmt: skip
        assert lfs_pr.pr_num == 2
        assert alice.dataset_info(repo).sha == main_before  # nothing of bob's is on main yet

        prs = list(alice.get_repo_discussions(repo, repo_type=DATASET, discussion_type="pull_request"))
        assert [(p.num, p.author, p.status, p.title) for p in prs] == [
            (2, "bob", "open", "More weights"),
            (1, "bob", "open", "Add notes"),
        ]
        paths = alice.list_repo_files(repo, repo_type=DATASET, revision="refs/pr/1")
        assert set(paths) == {".gitattributes", "data.csv", "notes.txt", "weights.bin"}

        # A branch stays closed to bob: main, another branch, and a PR that is not his.
        with pytest.raises(HfHubHTTPError) as refused:
            bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo, repo_type=DATASET)
        assert refused.value.response.status_code == 403
        assert refused.value.response.headers["X-Error-Code"] == "Forbidden"
        alice.create_branch(repo, repo_type=DATASET, branch="dev")
        with pytest.raises(HfHubHTTPError, match="403"):
            bob.upload_file(path_or_fileobj=weights, path_in_repo="w.bin", repo_id=repo, repo_type=DATASET,
                            revision="dev")  # fmt: skip
        theirs = alice.create_commit(repo, [CommitOperationAdd("alice.txt", b"mine")], commit_message="alice's PR",
                                     repo_type=DATASET, create_pr=True)  # fmt: skip
        with pytest.raises(HfHubHTTPError, match="403"):
            bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo, repo_type=DATASET,
                            revision=theirs.pr_revision)  # fmt: skip
        bob.change_discussion_status(repo, 2, "closed", repo_type=DATASET)
        with pytest.raises(HfHubHTTPError, match="403"):  # a closed PR of his own takes no more commits
            bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo, repo_type=DATASET,
                            revision="refs/pr/2")  # fmt: skip
        assert alice.dataset_info(repo).sha == main_before

        # The owner merges; the files are on main, byte for byte.
        alice.merge_pull_request(repo, 1, repo_type=DATASET, comment="Thanks, bob")
        assert alice.get_discussion_details(repo, 1, repo_type=DATASET).status == "merged"
        assert set(alice.list_repo_files(repo, repo_type=DATASET)) == {
            ".gitattributes", "data.csv", "notes.txt", "weights.bin"
        }  # fmt: skip
        anyone = HfApi(endpoint=catalog.url, token=False)
        cache = str(tmp_path / "cache")
        got = anyone.hf_hub_download(repo, "weights.bin", repo_type=DATASET, cache_dir=cache)
        assert Path(got).read_bytes() == weights
        got = anyone.hf_hub_download(repo, "notes.txt", repo_type=DATASET, cache_dir=cache)
        assert Path(got).read_bytes() == b"notes from bob\n"
        [weights_entry] = alice.get_paths_info(repo, ["weights.bin"], repo_type=DATASET)
        assert weights_entry.lfs is not None
        assert weights_entry.lfs.sha256 == weights_oid
        with pytest.raises(HfHubHTTPError, match="403"):  # once merged, no more pushes to it
            bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo, repo_type=DATASET,
                            revision="refs/pr/1")  # fmt: skip
        return 0

    await asyncio.to_thread(session)

    # The LFS object bob uploaded for his PR is his alone: carol, opening a PR of her own, cannot name it, and
    # neither can alice in a commit to main (it reaches main through the merge only). Before the merge, only in
    # refs/pr/2 (closed, unmerged) is the object of more.bin; try that one.
    [more] = [e for e in await _tree(catalog, "refs%2Fpr%2F2") if e["path"] == "more.bin"]
    oid, size = more["lfs"]["oid"], more["lfs"]["size"]
    for token, query in ((carol_token, "?create_pr=1"), (alice_token, "")):
        status, headers, body = await catalog.call(
            "POST", f"/api/datasets/{repo}/commit/main{query}", token=token, data=_lfs_commit("stolen.bin", oid, size),
            headers={"Content-Type": "application/x-ndjson"},
        )  # fmt: skip
        assert (status, headers["X-Error-Code"]) == (422, "LfsObjectMissing"), body
    status, _, _ = await catalog.call(
        "POST", f"/api/datasets/{repo}/commit/main", token=bob_token, data=_lfs_commit("direct.bin", oid, size),
        headers={"Content-Type": "application/x-ndjson"},
    )  # fmt: skip
    assert status == 403  # bob cannot send his object to main either
    main = {e["path"] for e in await _tree(catalog, "main")}
    assert main == {".gitattributes", "data.csv", "notes.txt", "weights.bin"}


async def _tree(catalog: Catalog, rev: str) -> list[dict[str, object]]:
    status, _, entries = await catalog.call("GET", f"/api/datasets/alice/shared/tree/{rev}?recursive=true")
    assert status == 200, entries
    return entries  # type: ignore[no-any-return]


async def test_a_reader_cannot_open_a_pull_request_where_they_cannot_read_or_write(catalog: Catalog) -> None:
    alice = HfApi(endpoint=catalog.url, token=await catalog.user("alice"))
    bob_token = await catalog.user("bob")
    bob = HfApi(endpoint=catalog.url, token=bob_token)
    dave_read_only = HfApi(endpoint=catalog.url, token=await catalog.user("dave", role="read"))

    def session() -> None:
        alice.create_repo("hidden", repo_type=DATASET, private=True)
        with pytest.raises(RepositoryNotFoundError):
            bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/hidden", repo_type=DATASET,
                            create_pr=True)  # fmt: skip
        with pytest.raises(RepositoryNotFoundError):
            bob.create_commit("alice/hidden", [CommitOperationAdd("w.bin", os.urandom(500) + b"\x00")],
                              commit_message="w", repo_type=DATASET, create_pr=True)  # fmt: skip
        alice.create_repo("open", repo_type=DATASET)
        with pytest.raises(HfHubHTTPError, match="403"):  # a read-only token opens no PR, as on the Hub
            dave_read_only.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/open",
                                       repo_type=DATASET, create_pr=True)  # fmt: skip
        # Nor a discussion, a draft PR or a comment: a read-only token writes nothing.
        for opening in (dave_read_only.create_discussion, dave_read_only.create_pull_request):
            with pytest.raises(HfHubHTTPError, match="403") as refused:
                opening("alice/open", "from a read token", repo_type=DATASET)
            assert refused.value.response.headers["X-Error-Code"] == "Forbidden"
        assert list(alice.get_repo_discussions("alice/open", repo_type=DATASET)) == []
        question = bob.create_discussion("alice/open", "A question", repo_type=DATASET)
        with pytest.raises(HfHubHTTPError, match="403"):
            dave_read_only.comment_discussion("alice/open", question.num, "me too", repo_type=DATASET)
        with pytest.raises(HfHubHTTPError, match="403"):
            dave_read_only.change_discussion_status("alice/open", question.num, "closed", repo_type=DATASET)
        details = alice.get_discussion_details("alice/open", question.num, repo_type=DATASET)
        assert (details.status, len(details.events)) == ("open", 1)

    await asyncio.to_thread(session)
    # A PR number past any there can be is no PR of bob's: refused, not a crash.
    for rev in ("refs%2Fpr%2F99999999999999999999", "refs%2Fpr%2F0x1", "refs%2Fpr%2F"):
        status, headers, body = await catalog.call(
            "POST", f"/api/datasets/alice/open/commit/{rev}", token=bob_token, data=_lfs_commit("a.bin", "0" * 64, 1),
            headers={"Content-Type": "application/x-ndjson"},
        )  # fmt: skip
        assert (status, headers["X-Error-Code"]) == (403, "Forbidden"), body


async def test_a_mirrored_copy_takes_no_pull_request(catalog: Catalog) -> None:
    alice = HfApi(endpoint=catalog.url, token=await catalog.user("alice"))
    bob = HfApi(endpoint=catalog.url, token=await catalog.user("bob"))
    await asyncio.to_thread(alice.create_repo, "copied", repo_type=DATASET)
    # As a sync leaves it: the repo is a copy from a mirror's upstream.
    await catalog.pool.execute("INSERT INTO mirrors (name, upstream_url, repos) VALUES ('up', 'http://x', '{}')")
    await catalog.pool.execute("UPDATE repos SET mirror = 'up' WHERE name = 'copied'")

    def session() -> None:
        for who in (bob, alice):
            with pytest.raises(HfHubHTTPError) as refused:
                who.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/copied",
                                repo_type=DATASET, create_pr=True)  # fmt: skip
            assert refused.value.response.status_code == 403
            assert refused.value.response.headers["X-Error-Code"] == "MirrorReadOnly"

    await asyncio.to_thread(session)
