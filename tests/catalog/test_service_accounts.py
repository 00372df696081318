"""Service accounts: a name and a role over every repo; their tokens are ordinary, revocable tokens."""

from __future__ import annotations

import pytest

from services.catalog import identity, store
from services.operator import ensure_service_account
from services.runtime.service_accounts import ServiceAccount, read_token, token_file
from tests.catalog.conftest import Catalog


async def test_a_read_service_account_reads_private_repos_writes_nothing_and_its_token_revokes(
    catalog: Catalog,
) -> None:
    alice = await catalog.user("alice")
    body = {"name": "secret", "type": "dataset", "private": True}
    assert (await catalog.call("POST", "/api/repos/create", token=alice, json=body))[0] == 200
    await catalog.user("bob")

    account = ServiceAccount("hubstream-reader", "read")
    token = await ensure_service_account(catalog.config.infra, account)
    assert read_token(catalog.home, account) == token
    assert token_file(catalog.home, account).stat().st_mode & 0o777 == 0o600
    assert await ensure_service_account(catalog.config.infra, account) == token  # kept while it is valid

    status, _, info = await catalog.call("GET", "/api/datasets/alice/secret", token=token)
    assert (status, info["private"]) == (200, True)
    status, _, _ = await catalog.call("GET", "/api/datasets/alice/secret", token=await catalog.user("carol"))
    assert status == 404  # a person who is not alice still sees nothing
    status, _, _ = await catalog.call(
        "POST", "/api/repos/create", token=token, json={"name": "mine", "organization": "bob"}
    )
    assert status == 403  # read only

    # Its token is listed and revoked like anybody's; a revoked one is refused and the next `up` replaces it.
    tokens = await store.tokens_of(catalog.pool, account.name)
    assert [(t["role"], t["revoked_at"]) for t in tokens] == [("read", None)]
    async with catalog.pool.acquire() as conn, conn.transaction():
        assert await identity.revoke_token(conn, catalog.outbox(), tokens[0]["id"])
    status, headers, _ = await catalog.call("GET", "/api/datasets/alice/secret", token=token)
    assert (status, headers["X-Error-Code"]) == (401, "Unauthorized")
    renewed = await ensure_service_account(catalog.config.infra, account)
    assert renewed != token
    assert read_token(catalog.home, account) == renewed
    assert (await catalog.call("GET", "/api/datasets/alice/secret", token=renewed))[0] == 200


async def test_a_write_service_account_writes_any_namespace_and_names_are_checked(catalog: Catalog) -> None:
    await catalog.user("bob")
    token = await ensure_service_account(catalog.config.infra, ServiceAccount("hubstream-writer", "write"))
    status, _, answer = await catalog.call(
        "POST", "/api/repos/create", token=token, json={"name": "made", "organization": "bob", "type": "dataset"}
    )
    assert status == 200, answer
    async with catalog.pool.acquire() as conn, conn.transaction():
        with pytest.raises(identity.IdentityError, match="already the name of a user"):
            await identity.create_service_account(conn, "bob", "read")
        with pytest.raises(identity.IdentityError, match="must be read or write"):
            await identity.create_service_account(conn, "svc", "admin")
        with pytest.raises(identity.IdentityError, match="exists with the write role"):
            await identity.create_service_account(conn, "hubstream-writer", "read")
