"""File access to gated and private repos (what the download routes call), against the real database."""

from __future__ import annotations

import pytest

from services.catalog import store
from services.catalog.repo_admin import require_file_access
from services.runtime.auth import Principal
from services.runtime.errors import ApiError
from tests.catalog.conftest import Catalog


async def test_gated_repos_answer_gatedrepo_to_outsiders(catalog: Catalog) -> None:
    alice = await catalog.user("alice", orgs={"acme": "admin"})
    await catalog.user("carol", orgs={"acme": "read"})
    await catalog.user("bob")
    for name, private in (("open", False), ("hidden", True)):
        body = {"name": name, "organization": "acme", "private": private}
        assert (await catalog.call("POST", "/api/repos/create", token=alice, json=body))[0] == 200
        status, _, answer = await catalog.call(
            "PUT", f"/api/models/acme/{name}/settings", token=alice, json={"gated": "manual"}
        )
        assert status == 200, answer
    gated = await store.repo(catalog.pool, "model", "acme", "open")
    hidden = await store.repo(catalog.pool, "model", "acme", "hidden")
    assert gated is not None
    assert hidden is not None

    async def outcome(who: str | None, repo: object) -> tuple[int, str] | None:
        principal = Principal(who, "t", "write") if who else None
        try:
            await require_file_access(catalog.pool, principal, repo, catalog.url)  # type: ignore[arg-type]
        except ApiError as err:
            return err.status, err.code
        return None

    assert await outcome(None, gated) == (401, "GatedRepo")
    assert await outcome("bob", gated) == (403, "GatedRepo")
    assert await outcome("carol", gated) is None  # a member of the owning organization
    assert await outcome("alice", gated) is None
    assert await outcome("bob", hidden) == (404, "RepoNotFound")  # private first: its gate is not revealed
    with pytest.raises(ApiError, match=r"Access to model acme/open is restricted and you are not in the authorized"):
        await require_file_access(catalog.pool, Principal("bob", "t", "write"), gated, catalog.url)

    # The gate does not hide the repo itself: its info stays public.
    status, _, info = await catalog.call("GET", "/api/models/acme/open")
    assert (status, info["gated"]) == (200, "manual")
