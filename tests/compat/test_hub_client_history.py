"""Tree, refs, commits, branches and tags, revisions, PRs and HfFileSystem with the unmodified client."""

from __future__ import annotations

import asyncio
import os

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    CommitOperationDelete,
    HfApi,
    HfFileSystem,
    hf_hub_download,
)
from huggingface_hub.errors import (
    BadRequestError,
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder

from tests.compat.conftest import CLIENT_WARNINGS, Catalog

pytestmark = CLIENT_WARNINGS

WEIGHTS = os.urandom(200_000)


async def test_tree_paths_info_commits_and_repo_info_by_revision(catalog: Catalog) -> None:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)

    def session() -> None:
        api.create_repo("hist")
        first = api.create_commit(
            "admin/hist",
            operations=[
                CommitOperationAdd("a.txt", b"hello world"),
                CommitOperationAdd("sub/dir/b.txt", b"bee"),
                CommitOperationAdd("sub/w.bin", WEIGHTS),
            ],
            commit_message="add files",
            commit_description="three of them",
        )
        tree = {e.path: e for e in api.list_repo_tree("admin/hist", recursive=True)}
        assert set(tree) == {".gitattributes", "a.txt", "sub", "sub/dir", "sub/dir/b.txt", "sub/w.bin"}
        a, w = tree["a.txt"], tree["sub/w.bin"]
        assert isinstance(a, RepoFile)
        assert (a.size, a.blob_id, a.lfs) == (11, "95d09f2b10159347eece71399a7e2e907ea3df4f", None)  # git's blob id
        assert isinstance(w, RepoFile)
        assert w.lfs is not None
        assert (w.size, w.lfs.size) == (len(WEIGHTS), len(WEIGHTS))
        assert isinstance(tree["sub"], RepoFolder)

        top = {e.path for e in api.list_repo_tree("admin/hist")}
        assert top == {".gitattributes", "a.txt", "sub"}
        inside = [e.path for e in api.list_repo_tree("admin/hist", path_in_repo="sub/dir")]
        assert inside == ["sub/dir/b.txt"]
        expanded = list(api.list_repo_tree("admin/hist", path_in_repo="sub", expand=True))
        assert {e.last_commit.oid for e in expanded} == {first.oid}  # type: ignore[union-attr]
        with pytest.raises(EntryNotFoundError):
            list(api.list_repo_tree("admin/hist", path_in_repo="nope"))

        infos = api.get_paths_info("admin/hist", ["a.txt", "sub", "missing.txt"])
        assert [(type(i).__name__, i.path) for i in infos] == [("RepoFile", "a.txt"), ("RepoFolder", "sub")]

        second = api.create_commit(
            "admin/hist",
            operations=[
                CommitOperationDelete("a.txt"),
                CommitOperationCopy("sub/w.bin", "copy.bin"),
                CommitOperationAdd("c.txt", b"sea"),
            ],
            commit_message="shuffle",
            parent_commit=first.oid,
        )
        api.delete_folder("sub/dir", "admin/hist")
        api.delete_file("c.txt", "admin/hist")
        assert set(api.list_repo_files("admin/hist")) == {".gitattributes", "copy.bin", "sub/w.bin"}

        commits = api.list_repo_commits("admin/hist")
        titles = [c.title for c in commits]
        assert titles[1:3] == ["Delete folder sub/dir with huggingface_hub", "shuffle"]
        assert titles[-1] == "initial commit"
        assert commits[0].commit_id == api.model_info("admin/hist").sha
        at_first = api.list_repo_commits("admin/hist", revision=first.oid)
        assert [c.title for c in at_first] == ["add files", "initial commit"]
        assert api.list_repo_commits("admin/hist", formatted=True)[0].formatted_title is not None

        old = api.model_info("admin/hist", revision=first.oid, files_metadata=True)
        assert old.sha == first.oid
        siblings = {s.rfilename: s for s in old.siblings or []}
        assert set(siblings) == {".gitattributes", "a.txt", "sub/dir/b.txt", "sub/w.bin"}
        assert siblings["sub/w.bin"].lfs is not None
        assert siblings["sub/w.bin"].size == len(WEIGHTS)
        assert api.model_info("admin/hist", revision=second.oid[:10]).sha == second.oid  # short ids resolve
        assert api.revision_exists("admin/hist", first.oid)
        assert not api.revision_exists("admin/hist", "no-such-branch")
        assert api.file_exists("admin/hist", "a.txt", revision=first.oid)
        assert not api.file_exists("admin/hist", "a.txt")
        assert not api.file_exists("admin/nothing-here", "a.txt")

    await asyncio.to_thread(session)


async def test_branches_tags_and_pull_requests(catalog: Catalog, tmp_path: os.PathLike[str]) -> None:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)

    def session() -> None:
        api.create_repo("refs", repo_type="dataset")
        base = api.upload_file(path_or_fileobj=b"v1", path_in_repo="f.txt", repo_id="admin/refs", repo_type="dataset")
        api.create_branch("admin/refs", branch="dev", repo_type="dataset")
        with pytest.raises(HfHubHTTPError, match="Reference refs/heads/dev already exists"):
            api.create_branch("admin/refs", branch="dev", repo_type="dataset")
        api.create_branch("admin/refs", branch="dev", repo_type="dataset", exist_ok=True)
        api.upload_file(
            path_or_fileobj=b"v2", path_in_repo="f.txt", repo_id="admin/refs", repo_type="dataset", revision="dev"
        )
        api.create_tag("admin/refs", tag="v1.0", tag_message="first", repo_type="dataset")
        with pytest.raises(HfHubHTTPError, match="already exists"):
            api.create_tag("admin/refs", tag="v1.0", repo_type="dataset")
        # A tag or a commit is no place to commit, and the client is told so (400), not that it does not exist.
        for rev, said in (("v1.0", "cannot commit to tag 'v1.0'"), (base.oid, f"cannot commit to commit {base.oid}")):
            with pytest.raises(BadRequestError, match=said):
                api.upload_file(
                    path_or_fileobj=b"x", path_in_repo="t.txt", repo_id="admin/refs", repo_type="dataset", revision=rev
                )
        pr = api.upload_file(
            path_or_fileobj=b"pr",
            path_in_repo="f.txt",
            repo_id="admin/refs",
            repo_type="dataset",
            create_pr=True,
        )
        assert (pr.pr_num, pr.pr_revision) == (1, "refs/pr/1")
        api.upload_file(
            path_or_fileobj=b"pr2",
            path_in_repo="g.txt",
            repo_id="admin/refs",
            repo_type="dataset",
            revision="refs/pr/1",
        )

        refs = api.list_repo_refs("admin/refs", repo_type="dataset", include_pull_requests=True)
        assert {b.name for b in refs.branches} == {"main", "dev"}
        assert [(t.name, t.target_commit) for t in refs.tags] == [("v1.0", base.oid)]
        assert [p.ref for p in refs.pull_requests or []] == ["refs/pr/1"]
        assert refs.converts == []

        def read(rev: str, name: str = "f.txt") -> bytes:
            path = hf_hub_download(
                "admin/refs",
                name,
                repo_type="dataset",
                revision=rev,
                endpoint=catalog.url,
                token=catalog.admin_token,
                cache_dir=f"{tmp_path}/cache",
            )
            with open(path, "rb") as f:
                return f.read()

        assert (read("main"), read("dev"), read("v1.0"), read("refs/pr/1"), read("refs/pr/1", "g.txt")) == (
            b"v1",
            b"v2",
            b"v1",
            b"pr",
            b"pr2",
        )
        assert api.dataset_info("admin/refs", revision="refs/pr/1").sha == refs.pull_requests[0].target_commit  # type: ignore[index]

        with pytest.raises(HfHubHTTPError, match="Cannot delete refs/heads/main"):
            api.delete_branch("admin/refs", branch="main", repo_type="dataset")
        api.delete_branch("admin/refs", branch="dev", repo_type="dataset")
        with pytest.raises(RevisionNotFoundError):
            api.dataset_info("admin/refs", revision="dev")
        with pytest.raises(HfHubHTTPError, match="Invalid rev id"):
            api.delete_branch("admin/refs", branch="dev", repo_type="dataset")
        api.delete_tag("admin/refs", tag="v1.0", repo_type="dataset")
        assert not api.revision_exists("admin/refs", "v1.0", repo_type="dataset")

    await asyncio.to_thread(session)


async def test_hf_file_system_lists_and_reads_byte_ranges(catalog: Catalog) -> None:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    fs = HfFileSystem(endpoint=catalog.url, token=catalog.admin_token, skip_instance_cache=True)
    data = os.urandom(3 * 1024 * 1024 + 17)

    def session() -> None:
        api.create_repo("fs", repo_type="dataset")
        api.upload_file(path_or_fileobj=data, path_in_repo="data/big.bin", repo_id="admin/fs", repo_type="dataset")
        assert fs.ls("datasets/admin/fs/data", detail=False) == ["datasets/admin/fs/data/big.bin"]
        assert fs.info("datasets/admin/fs/data/big.bin")["size"] == len(data)
        assert fs.isdir("datasets/admin/fs/data")
        with fs.open("datasets/admin/fs/data/big.bin", "rb", block_size=256 * 1024) as f:
            f.seek(1_000_000)
            assert f.read(100) == data[1_000_000:1_000_100]
            f.seek(len(data) - 10)
            assert f.read() == data[-10:]
        assert fs.cat_file("datasets/admin/fs/data/big.bin", start=5, end=50) == data[5:50]
        assert fs.read_bytes("datasets/admin/fs/data/big.bin") == data
        fs.pipe_file("datasets/admin/fs/written.txt", b"through the file system")
        assert fs.cat_file("datasets/admin/fs/written.txt") == b"through the file system"
        fs.rm("datasets/admin/fs/written.txt")
        assert not fs.exists("datasets/admin/fs/written.txt")

    await asyncio.to_thread(session)


async def test_private_repos_are_invisible_to_others(catalog: Catalog, tmp_path: os.PathLike[str]) -> None:
    owner = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    other_token = await catalog.user("mallory")
    other = HfApi(endpoint=catalog.url, token=other_token)
    anonymous = HfApi(endpoint=catalog.url, token=False)

    def session() -> None:
        owner.create_repo("secret", private=True)
        owner.upload_file(path_or_fileobj=b"s3cret", path_in_repo="s.txt", repo_id="admin/secret")
        owner.create_repo("open")
        for api in (other, anonymous):
            with pytest.raises(RepositoryNotFoundError):
                list(api.list_repo_tree("admin/secret"))
            with pytest.raises(RepositoryNotFoundError):
                api.list_repo_refs("admin/secret")
            with pytest.raises(RepositoryNotFoundError):
                hf_hub_download(
                    "admin/secret", "s.txt", endpoint=catalog.url, token=api.token, cache_dir=f"{tmp_path}/c"
                )
            assert not api.file_exists("admin/secret", "s.txt")
        with pytest.raises(RepositoryNotFoundError):
            other.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="admin/secret")
        with pytest.raises(HfHubHTTPError, match="403"):  # visible but not theirs to write
            other.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="admin/open")
        assert owner.list_repo_files("admin/secret") == [".gitattributes", "s.txt"]

    await asyncio.to_thread(session)


async def test_long_trees_and_histories_are_paged_and_the_client_follows_every_page(catalog: Catalog) -> None:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    many = [CommitOperationAdd(f"shard/{i:04d}.txt", b"%d" % i) for i in range(1203)]  # the tree pages at 1000

    def session() -> None:
        api.create_repo("long")
        api.create_commit("admin/long", many, commit_message="many files")
        for i in range(55):  # the commit list pages at 50
            api.create_commit("admin/long", [CommitOperationAdd("counter.txt", b"%d" % i)], commit_message=f"n{i}")
        files = api.list_repo_files("admin/long")
        assert len(files) == 1203 + 2
        assert len(set(files)) == len(files)
        titles = [c.title for c in api.list_repo_commits("admin/long")]
        assert titles == [f"n{i}" for i in reversed(range(55))] + ["many files", "initial commit"]
        top = list(api.list_repo_tree("admin/long", path_in_repo="shard", expand=True))  # 50 per page expanded
        assert len(top) == 1203

    await asyncio.to_thread(session)


async def test_super_squash_keeps_the_files_and_drops_the_history(catalog: Catalog, tmp_path: os.PathLike[str]) -> None:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)

    def session() -> None:
        api.create_repo("squash")
        for i in range(3):
            api.upload_file(path_or_fileobj=b"v%d" % i, path_in_repo="f.txt", repo_id="admin/squash")
        api.upload_file(path_or_fileobj=WEIGHTS, path_in_repo="w.bin", repo_id="admin/squash")
        before = {e.path: e.blob_id for e in api.list_repo_tree("admin/squash", recursive=True)}
        api.super_squash_history("admin/squash", commit_message="squashed")
        commits = api.list_repo_commits("admin/squash")
        assert [c.title for c in commits] == ["squashed"]
        assert api.model_info("admin/squash").sha == commits[0].commit_id
        assert {e.path: e.blob_id for e in api.list_repo_tree("admin/squash", recursive=True)} == before
        path = hf_hub_download(
            "admin/squash", "w.bin", endpoint=catalog.url, token=catalog.admin_token, cache_dir=f"{tmp_path}/c"
        )
        with open(path, "rb") as f:
            assert f.read() == WEIGHTS
        with pytest.raises(RevisionNotFoundError):
            api.super_squash_history("admin/squash", branch="nope")

    await asyncio.to_thread(session)
