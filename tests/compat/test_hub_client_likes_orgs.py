"""Likes, token permission, organization members and overviews, and resource groups, with the unmodified
client (2.x; `like` and `get_token_permission` exist only in the 0.2x line, run from its own Python)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import get_session

from tests.compat.conftest import CLIENT_WARNINGS, Catalog
from tests.compat.legacy import run_legacy_client

pytestmark = CLIENT_WARNINGS


async def test_likes_count_list_and_undo(catalog: Catalog) -> None:
    bob_token = await catalog.user("bob")
    carol_token = await catalog.user("carol", orgs={"lab": "write"})
    admin = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    bob, carol = HfApi(endpoint=catalog.url, token=bob_token), HfApi(endpoint=catalog.url, token=carol_token)

    def session() -> None:
        admin.create_repo("liked")
        admin.create_repo("liked-data", repo_type="dataset")
        carol.create_repo("lab/hidden", private=True)
        for token, path in (
            (bob_token, "/api/models/admin/liked"),
            (carol_token, "/api/models/admin/liked"),
            (bob_token, "/api/datasets/admin/liked-data"),
            (carol_token, "/api/models/lab/hidden"),
            (bob_token, "/api/models/admin/liked"),  # a second like by the same user counts once
        ):
            r = get_session().post(f"{catalog.url}{path}/like", headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
        assert admin.model_info("admin/liked").likes == 2
        assert [m.likes for m in admin.list_models(search="admin/liked")] == [2]
        assert sorted(u.username for u in admin.list_repo_likers("admin/liked")) == ["bob", "carol"]
        likes = admin.list_liked_repos("bob")
        assert (likes.user, likes.total, likes.models, likes.datasets) == (
            "bob",
            2,
            ["admin/liked"],
            ["admin/liked-data"],
        )
        assert carol.list_liked_repos().models == ["lab/hidden", "admin/liked"]  # newest first; her own view
        assert bob.list_liked_repos("carol").models == ["admin/liked"]  # a private repo bob cannot see is left out

        bob.unlike("admin/liked")
        bob.unlike("admin/liked")  # again: nothing left to take back
        assert admin.model_info("admin/liked").likes == 1
        assert [u.username for u in admin.list_repo_likers("admin/liked")] == ["carol"]
        with pytest.raises(RepositoryNotFoundError):
            bob.unlike("admin/missing")
        with pytest.raises(RepositoryNotFoundError):
            list(bob.list_repo_likers("lab/hidden"))  # a lazy iterator: the request goes out when read

    await asyncio.to_thread(session)


LEGACY_SCRIPT = r"""
import json, os
from huggingface_hub import HfApi
api = HfApi(endpoint=os.environ["HF_ENDPOINT"])
api.create_repo("old-likes")
api.like("admin/old-likes")
got = {"likes": api.model_info("admin/old-likes").likes, "liked": api.list_liked_repos().models,
       "likers": [u.username for u in api.list_repo_likers("admin/old-likes")],
       "permission": api.get_token_permission(), "read": api.get_token_permission(os.environ["READ_TOKEN"]),
       "bad": api.get_token_permission("hf_not_a_token_000000000000")}
api.unlike("admin/old-likes")
got["after"] = api.model_info("admin/old-likes").likes
print(json.dumps(got))
"""


async def test_the_0_2x_client_likes_and_reads_its_token_permission(
    catalog: Catalog, legacy_hub: Path, tmp_path: os.PathLike[str]
) -> None:
    read_token = await catalog.user("reader", role="read")
    got = await run_legacy_client(LEGACY_SCRIPT, catalog, legacy_hub, tmp_path, READ_TOKEN=read_token)
    assert got == {
        "likes": 1,
        "liked": ["admin/old-likes"],
        "likers": ["admin"],
        "permission": "write",
        "read": "read",
        "bad": None,
        "after": 0,
    }


async def test_organization_members_overviews_and_resource_groups(catalog: Catalog) -> None:
    boss_token = await catalog.user("boss", orgs={"acme": "admin"})
    dev_token = await catalog.user("dev", orgs={"acme": "write"})
    intern_token = await catalog.user("intern", orgs={"acme": "read"})
    await catalog.user("stranger")
    boss = HfApi(endpoint=catalog.url, token=boss_token)
    dev, intern = HfApi(endpoint=catalog.url, token=dev_token), HfApi(endpoint=catalog.url, token=intern_token)
    auth = {"authorization": f"Bearer {boss_token}"}

    def call(method: str, path: str, body: object = None, headers: dict[str, str] = auth) -> tuple[int, dict]:
        r = get_session().request(method, f"{catalog.url}{path}", json=body, headers=headers)
        answer = r.json()
        return r.status_code, {
            "code": r.headers.get("X-Error-Code"),
            **(answer if isinstance(answer, dict) else {"list": answer}),
        }

    def session() -> None:
        members = {u.username: u for u in boss.list_organization_members("acme")}
        assert sorted(members) == ["boss", "dev", "intern"]
        boss.create_repo("acme/open")
        boss.create_repo("acme/vault", private=True, repo_type="dataset")
        overview = boss.get_organization_overview("acme")
        assert (overview.name, overview.num_users, overview.num_models, overview.num_datasets) == ("acme", 3, 1, 0)
        me = boss.get_user_overview("dev")
        assert (me.username, [o.name for o in me.orgs]) == ("dev", ["acme"])
        with pytest.raises(HfHubHTTPError, match="404"):
            boss.get_organization_overview("nobody")

        # Before any group: the org's own rule (every member reads, writers write).
        assert intern.dataset_info("acme/vault").private
        intern_auth = {"authorization": f"Bearer {intern_token}"}
        assert call("POST", "/api/datasets/acme/vault/like", headers=intern_auth)[0] == 200
        assert intern.list_liked_repos().datasets == ["acme/vault"]
        assert [d.id for d in intern.list_datasets(author="acme")] == ["acme/vault"]
        status, group = call(
            "POST",
            "/api/organizations/acme/resource-groups",
            {"name": "vault-team", "users": [{"user": "dev", "role": "read"}],
             "repos": [{"type": "dataset", "name": "acme/vault"}]},
        )  # fmt: skip
        assert status == 200, group
        gid = group["id"]
        assert [r["name"] for r in group["repos"]] == ["acme/vault"]
        assert [(u["user"], u["role"]) for u in group["users"]] == [("dev", "read")]

        # In the group: the intern (not in it) no longer sees it; dev reads but may not write; boss (admin) may.
        with pytest.raises(RepositoryNotFoundError):
            intern.dataset_info("acme/vault")
        assert dev.dataset_info("acme/vault").private
        assert [d.id for d in intern.list_datasets(author="acme")] == []  # not listed either
        # create_repo(resource_group_id=...): for org admins and the group's writers; the info names the group.
        boss.create_repo("acme/in-group", private=True, resource_group_id=gid)
        assert dev.model_info("acme/in-group").resource_group == {"id": gid, "name": "vault-team", "numUsers": 1}
        with pytest.raises(RepositoryNotFoundError):
            intern.model_info("acme/in-group")
        with pytest.raises(HfHubHTTPError, match="403"):
            dev.create_repo("acme/not-made", resource_group_id=gid)  # dev only reads in the group
        assert not boss.repo_exists("acme/not-made")  # refused whole: no repo without its group
        assert intern.list_liked_repos().datasets == []
        assert [d.id for d in dev.list_datasets(author="acme")] == ["acme/vault"]
        assert [d.id for d in boss.list_datasets(author="acme")] == ["acme/vault"]
        with pytest.raises(HfHubHTTPError, match="403"):
            dev.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="acme/vault", repo_type="dataset")
        assert call("PATCH", f"/api/organizations/acme/resource-groups/{gid}/users/dev", {"role": "write"})[0] == 200
        dev.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="acme/vault", repo_type="dataset")
        boss.upload_file(path_or_fileobj=b"y", path_in_repo="y.txt", repo_id="acme/vault", repo_type="dataset")

        # A user who is not a member of the org cannot join: a clear 400, and the group is unchanged.
        joiners = [{"user": "intern", "role": "read"}, {"user": "stranger", "role": "write"}]
        status, body = call("POST", f"/api/organizations/acme/resource-groups/{gid}/users", {"users": joiners})
        assert (status, body["code"]) == (400, "NotOrgMember")
        assert "stranger" in body["error"]
        status, body = call("GET", f"/api/organizations/acme/resource-groups/{gid}")
        assert [u["user"] for u in body["users"]] == ["dev"]
        # Managing groups is for org admins.
        status, body = call("POST", "/api/organizations/acme/resource-groups", {"name": "x"},
                            headers={"authorization": f"Bearer {dev_token}"})  # fmt: skip
        assert (status, body["code"]) == (403, "Forbidden")

        # autoJoin gives every member a role; the settings, a rename, removing a user, taking the repo out.
        assert call("POST", f"/api/organizations/acme/resource-groups/{gid}/settings",
                    {"autoJoin": {"enabled": True, "role": "read"}})[0] == 200  # fmt: skip
        assert intern.dataset_info("acme/vault").private
        status, body = call("PATCH", f"/api/organizations/acme/resource-groups/{gid}", {"name": "vault"})
        assert (status, body["name"], body["autoJoin"]) == (200, "vault", {"enabled": True, "role": "read"})
        assert call("DELETE", f"/api/organizations/acme/resource-groups/{gid}/users/dev")[0] == 200
        with pytest.raises(HfHubHTTPError, match="403"):  # back to the auto-join role: read
            dev.upload_file(path_or_fileobj=b"z", path_in_repo="z.txt", repo_id="acme/vault", repo_type="dataset")
        status, body = call("GET", "/api/organizations/acme/resource-groups")
        assert [g["name"] for g in body["list"]] == ["vault"]
        assert call("POST", "/api/datasets/acme/vault/resource-group", {"resourceGroupId": None})[0] == 200
        dev.upload_file(path_or_fileobj=b"z", path_in_repo="z.txt", repo_id="acme/vault", repo_type="dataset")
        status, body = call("DELETE", f"/api/organizations/acme/resource-groups/{gid}")
        assert status == 200
        assert call("GET", f"/api/organizations/acme/resource-groups/{gid}")[1]["code"] == "ResourceGroupNotFound"

    await asyncio.to_thread(session)
