"""The unmodified `huggingface_hub` client against the catalog: identity, repo creation, errors.

The catalog issue widens this to files, commits, listing and the rest; here it
pins what the foundation serves (tokens, create_repo, repo info, error codes).
"""

from __future__ import annotations

import asyncio

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.e2e.conftest import Stack


async def test_the_hub_client_sees_its_user_creates_repos_and_maps_errors(stack: Stack) -> None:
    endpoint = stack.configs["catalog"].http.url
    api = HfApi(endpoint=endpoint, token=stack.admin_token)

    def session() -> None:  # the client is synchronous: run it off the event loop that serves it
        me = api.whoami()
        assert me["name"] == "admin"
        assert me["auth"]["accessToken"]["role"] == "write"

        url = api.create_repo("hello", repo_type="dataset", private=True)
        assert str(url) == f"{endpoint}/datasets/admin/hello"
        assert url.repo_id == "admin/hello"
        assert str(api.create_repo("hello", repo_type="dataset", exist_ok=True)) == str(url)  # the 409 path

        info = api.dataset_info("admin/hello")
        assert (info.id, info.private) == ("admin/hello", True)

        with pytest.raises(RepositoryNotFoundError):
            api.dataset_info("admin/missing")
        with pytest.raises(RepositoryNotFoundError):  # private: invisible without the owner's token
            HfApi(endpoint=endpoint, token=False).dataset_info("admin/hello")
        with pytest.raises(HfHubHTTPError, match="Invalid user token"):
            HfApi(endpoint=endpoint, token="hf_not_a_real_token_0000000000").whoami()

    await asyncio.to_thread(session)
