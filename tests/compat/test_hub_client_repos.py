"""The unmodified `huggingface_hub` client administering repos: create, settings, move, delete, privacy.

Each step is checked the way a user would (through the client's own `*_info` / `repo_exists`), and the events
the catalog committed for it are read back from its outbox.
"""

from __future__ import annotations

import asyncio

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.catalog.conftest import Catalog


async def test_create_settings_move_delete_with_the_hub_client(catalog: Catalog) -> None:
    alice = await catalog.user("alice", orgs={"acme": "admin"})
    bob = await catalog.user("bob")
    carol = await catalog.user("carol", orgs={"acme": "read"})
    api = HfApi(endpoint=catalog.url, token=alice)
    as_bob = HfApi(endpoint=catalog.url, token=bob)
    as_carol = HfApi(endpoint=catalog.url, token=carol)
    anonymous = HfApi(endpoint=catalog.url, token=False)

    def session() -> None:
        assert [(o["name"], o["roleInOrg"]) for o in api.whoami()["orgs"]] == [("acme", "admin")]
        assert [(o["name"], o["roleInOrg"]) for o in as_carol.whoami()["orgs"]] == [("acme", "read")]

        # -- create: three types, public and private, the 409 and exist_ok ---------------------------------------
        assert str(api.create_repo("alice/m")) == f"{catalog.url}/alice/m"
        assert str(api.create_repo("acme/d", repo_type="dataset", private=True)) == f"{catalog.url}/datasets/acme/d"
        space_url = api.create_repo("alice/s", repo_type="space", space_sdk="gradio")
        assert str(space_url) == f"{catalog.url}/spaces/alice/s"
        with pytest.raises(HfHubHTTPError, match="You already created this model repo") as exc:
            api.create_repo("alice/m")
        assert exc.value.response.status_code == 409
        assert str(api.create_repo("alice/m", exist_ok=True)) == f"{catalog.url}/alice/m"

        info = api.model_info("alice/m")
        assert (info.id, info.author, info.private, info.gated, info.tags) == ("alice/m", "alice", False, False, [])
        assert info.created_at is not None  # dates the client could parse
        assert info.last_modified is not None
        only = api.model_info("alice/m", expand=["likes", "createdAt"])  # just those (and the id)
        assert (only.id, only.likes, only.created_at is not None, only.private, only.tags) == (
            "alice/m",
            0,
            True,
            None,
            None,
        )
        space = api.space_info("alice/s")
        assert space.sdk == "gradio"
        assert "gradio" in space.tags

        # -- privacy: a private org repo is visible to its members (any role) and to nobody else -----------------
        assert api.dataset_info("acme/d").private is True
        assert as_carol.repo_exists("acme/d", repo_type="dataset")
        assert not as_bob.repo_exists("acme/d", repo_type="dataset")
        assert not anonymous.repo_exists("acme/d", repo_type="dataset")
        with pytest.raises(RepositoryNotFoundError):
            as_bob.dataset_info("acme/d")

        # -- settings: visibility and gating, as later reads show them -------------------------------------------
        api.update_repo_settings("acme/d", repo_type="dataset", private=False, gated="manual")
        info = as_bob.dataset_info("acme/d")
        assert (info.private, info.gated) == (False, "manual")
        api.update_repo_settings("acme/d", repo_type="dataset", gated="auto")
        assert anonymous.dataset_info("acme/d").gated == "auto"
        api.update_repo_settings("acme/d", repo_type="dataset", gated=False, visibility="private")
        info = api.dataset_info("acme/d")
        assert (info.private, info.gated) == (True, False)
        with pytest.raises(HfHubHTTPError) as exc:  # a read member sees the repo but does not administer it
            as_carol.update_repo_settings("acme/d", repo_type="dataset", private=False)
        assert exc.value.response.status_code == 403
        with pytest.raises(RepositoryNotFoundError):  # an outsider does not even see it
            as_bob.update_repo_settings("acme/d", repo_type="dataset", private=False)

        # -- move: the old name keeps working (the client follows the redirect) ----------------------------------
        api.move_repo("alice/m", "acme/m2")
        assert api.model_info("acme/m2").id == "acme/m2"
        assert api.model_info("alice/m").id == "acme/m2"
        assert api.repo_exists("alice/m")
        api.create_repo("alice/other")
        with pytest.raises(HfHubHTTPError, match="A model repository called acme/m2 already exists"):
            api.move_repo("alice/other", "acme/m2")
        with pytest.raises(HfHubHTTPError) as exc:  # bob may not move alice's repo, though he can see it
            as_bob.move_repo("alice/other", "bob/stolen")
        assert exc.value.response.status_code == 403
        api.create_repo("alice/m")  # a new repo takes the old name back: no more redirect
        assert api.model_info("alice/m").id == "alice/m"

        # -- delete ------------------------------------------------------------------------------------------------
        with pytest.raises(HfHubHTTPError) as exc:
            as_bob.delete_repo("alice/other")
        assert exc.value.response.status_code == 403
        api.delete_repo("acme/m2")
        assert not api.repo_exists("acme/m2")
        with pytest.raises(RepositoryNotFoundError):
            api.delete_repo("acme/m2")
        api.delete_repo("acme/m2", missing_ok=True)

    await asyncio.to_thread(session)

    created = await catalog.events("hubstream.catalog.repo.created.v1")
    assert [(e["repo_type"], e["repo_id"]) for e in created] == [
        ("model", "alice/m"),
        ("dataset", "acme/d"),
        ("space", "alice/s"),
        ("model", "alice/other"),
        ("model", "alice/m"),
    ]
    assert await catalog.events("hubstream.catalog.repo.moved.v1") == [
        {"repo_type": "model", "repo_id": "acme/m2", "from_repo_id": "alice/m", "private": False}
    ]
    settings = await catalog.events("hubstream.catalog.repo.settings_changed.v1")
    assert [(e["private"], e["gated"], e["changed"]) for e in settings] == [
        (False, "manual", ["private", "gated"]),
        (False, "auto", ["gated"]),
        (True, False, ["private", "gated"]),
    ]
    assert await catalog.events("hubstream.catalog.repo.deleted.v1") == [{"repo_type": "model", "repo_id": "acme/m2"}]


@pytest.mark.parametrize("repo_type", ["model", "dataset"])
async def test_a_model_or_dataset_is_duplicated_with_its_history(catalog: Catalog, repo_type: str) -> None:
    # Found by exploratory testing: duplicate_repo answered 404 "no such route" for models and datasets.
    alice = await catalog.user("alice")
    bob = await catalog.user("bob")
    api, as_bob = HfApi(endpoint=catalog.url, token=alice), HfApi(endpoint=catalog.url, token=bob)
    prefix = "" if repo_type == "model" else f"{repo_type}s/"

    def session() -> None:
        api.create_repo("alice/src", repo_type=repo_type, private=True)
        api.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id="alice/src", repo_type=repo_type)
        api.upload_file(path_or_fileobj=b"b", path_in_repo="d/b.txt", repo_id="alice/src", repo_type=repo_type)
        api.create_tag("alice/src", tag="v1", repo_type=repo_type)
        url = api.duplicate_repo("alice/src", "alice/copy", repo_type=repo_type)
        assert str(url) == f"{catalog.url}/{prefix}alice/copy"
        commits = [c.commit_id for c in api.list_repo_commits("alice/copy", repo_type=repo_type)]
        assert commits == [c.commit_id for c in api.list_repo_commits("alice/src", repo_type=repo_type)]
        assert sorted(api.list_repo_files("alice/copy", repo_type=repo_type)) == [".gitattributes", "a.txt", "d/b.txt"]
        assert [t.name for t in api.list_repo_refs("alice/copy", repo_type=repo_type).tags] == ["v1"]
        assert api.repo_info("alice/copy", repo_type=repo_type).private  # as the source, unless the body says
        with pytest.raises(HfHubHTTPError) as exc:
            api.duplicate_repo("alice/src", "alice/copy", repo_type=repo_type)
        assert exc.value.response.status_code == 409
        assert str(api.duplicate_repo("alice/src", "alice/copy", repo_type=repo_type, exist_ok=True)) == str(url)
        with pytest.raises(RepositoryNotFoundError):  # a private repo bob cannot see is not there for him
            as_bob.duplicate_repo("alice/src", repo_type=repo_type)

    await asyncio.to_thread(session)
