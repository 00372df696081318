"""Where repos meet their files, through the unmodified client: cards from committed READMEs, gated downloads,
moved repos' old names for files, and siblings in repo info and full listings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError

from tests.compat.conftest import CLIENT_WARNINGS, Catalog

pytestmark = CLIENT_WARNINGS

CARD = b"---\nlicense: mit\nlanguage:\n- en\ntags:\n- fresh\n---\n# A model\n"


async def test_a_committed_readme_becomes_the_card_and_its_tags(catalog: Catalog) -> None:
    alice = await catalog.user("alice")
    api = HfApi(endpoint=catalog.url, token=alice)

    def session() -> None:
        api.create_repo("alice/carded")
        commit = api.upload_file(path_or_fileobj=CARD, path_in_repo="README.md", repo_id="alice/carded")
        info = api.model_info("alice/carded")
        assert info.card_data is not None
        assert info.card_data["license"] == "mit"
        assert {"fresh", "en", "license:mit"} <= set(info.tags)
        assert info.sha == commit.oid
        assert [m.id for m in api.list_models(filter="license:mit")] == ["alice/carded"]

        # A README on another branch leaves main's card alone; deleting main's README takes the card away.
        api.create_branch("alice/carded", branch="dev")
        api.upload_file(path_or_fileobj=b"---\nlicense: apache-2.0\n---\n", path_in_repo="README.md",
                        repo_id="alice/carded", revision="dev")  # fmt: skip
        assert api.model_info("alice/carded").card_data["license"] == "mit"
        api.delete_file("README.md", repo_id="alice/carded")
        info = api.model_info("alice/carded")
        assert info.card_data is None
        assert "license:mit" not in info.tags
        assert list(api.list_models(filter="license:mit")) == []

    await asyncio.to_thread(session)


async def test_a_gated_repos_files_need_access(catalog: Catalog, tmp_path: Path) -> None:
    alice = await catalog.user("alice")
    bob = await catalog.user("bob")
    api = HfApi(endpoint=catalog.url, token=alice)

    def session() -> None:
        api.create_repo("alice/gated", repo_type="dataset")
        api.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id="alice/gated", repo_type="dataset")
        api.update_repo_settings("alice/gated", repo_type="dataset", gated="auto")
        for token in (False, bob):
            with pytest.raises(GatedRepoError):
                hf_hub_download("alice/gated", "s.txt", repo_type="dataset", endpoint=catalog.url, token=token,
                                cache_dir=tmp_path / f"c-{bool(token)}")  # fmt: skip
        # Its info and file list stay readable; its owner downloads.
        assert HfApi(endpoint=catalog.url, token=bob).list_repo_files("alice/gated", repo_type="dataset") == [
            ".gitattributes",
            "s.txt",
        ]
        path = hf_hub_download("alice/gated", "s.txt", repo_type="dataset", endpoint=catalog.url, token=alice,
                               cache_dir=tmp_path / "owner")  # fmt: skip
        assert Path(path).read_bytes() == b"secret"

    await asyncio.to_thread(session)


async def test_a_moved_repos_old_name_serves_its_files(catalog: Catalog, tmp_path: Path) -> None:
    alice = await catalog.user("alice")
    api = HfApi(endpoint=catalog.url, token=alice)

    def session() -> None:
        api.create_repo("alice/before", repo_type="dataset")
        api.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="d.csv", repo_id="alice/before",
                        repo_type="dataset")  # fmt: skip
        api.move_repo("alice/before", "alice/after", repo_type="dataset")
        old = hf_hub_download("alice/before", "d.csv", repo_type="dataset", endpoint=catalog.url, token=alice,
                              cache_dir=tmp_path / "c")  # fmt: skip
        assert Path(old).read_bytes() == b"a,b\n1,2\n"
        assert api.list_repo_files("alice/before", repo_type="dataset") == [".gitattributes", "d.csv"]

    await asyncio.to_thread(session)


async def test_repo_info_and_full_listings_carry_siblings(catalog: Catalog) -> None:
    alice = await catalog.user("alice")
    api = HfApi(endpoint=catalog.url, token=alice)

    def session() -> None:
        api.create_repo("alice/sib")
        commit = api.upload_file(path_or_fileobj=b"x", path_in_repo="w/x.bin", repo_id="alice/sib")
        info = api.model_info("alice/sib", files_metadata=True)
        assert [(s.rfilename, s.size) for s in info.siblings] == [(".gitattributes", info.siblings[0].size),
                                                                  ("w/x.bin", 1)]  # fmt: skip
        assert info.sha == commit.oid
        (listed,) = api.list_models(author="alice", full=True)
        assert [s.rfilename for s in listed.siblings] == [".gitattributes", "w/x.bin"]
        assert listed.sha == commit.oid
        (short,) = api.list_models(author="alice")
        assert short.siblings is None

    await asyncio.to_thread(session)
