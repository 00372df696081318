"""A mirror's upstream token is stored encrypted (sealed with the catalog's secrets key), never shown, and still
authenticates syncs and first downloads; a token an earlier version stored in plain text is sealed in place."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from huggingface_hub import HfApi, hf_hub_download

from services.catalog.mirror_tokens import tokens_cipher, unseal
from services.catalog.mirror_worker import SyncRunner
from tests.compat.conftest import CLIENT_WARNINGS
from tests.mirror.conftest import Catalog, Ran, Upstream

pytestmark = [CLIENT_WARNINGS]

SECRET_BYTES = b"only with alice's token\n"


async def _private_upstream_repo(upstream: Upstream) -> str:
    """alice's private dataset upstream (an anonymous sync does not see it); her token."""
    alice = await upstream.user("alice")
    up = HfApi(endpoint=upstream.url, token=alice)

    def make() -> None:
        up.create_repo("alice/secret", repo_type="dataset", private=True)
        up.upload_file(path_or_fileobj=SECRET_BYTES, path_in_repo="data.txt", repo_id="alice/secret",
                       repo_type="dataset")  # fmt: skip

    await asyncio.to_thread(make)
    return alice


async def _row(catalog: Catalog) -> dict[str, Any]:
    row = await catalog.pool.fetchrow("SELECT * FROM mirrors WHERE name = 'up'")
    assert row is not None
    return dict(row)


async def test_a_mirror_token_is_stored_encrypted_and_still_authenticates(
    catalog: Catalog, upstream: Upstream, mirror_worker: object, hubstream: Any, tmp_path: Path
) -> None:
    alice = await _private_upstream_repo(upstream)
    added: Ran = await hubstream("mirror", "add", "up", upstream.url, "--token", alice,
                                 "--repo", "dataset/alice/secret")  # fmt: skip
    assert added.code == 0, added.err
    assert alice not in added.out + added.err

    row = await _row(catalog)
    stored = " ".join(repr(v) for v in row.values())
    assert alice not in stored  # in no column, in no form the row shows
    assert alice.encode() not in bytes(row["token_sealed"])
    assert row["legacy_plain_token"] is None
    # Sealed with the state dir's secrets key: it opens with that key only.
    assert unseal(tokens_cipher(catalog.config.infra.home), row["token_sealed"], "up") == alice

    synced: Ran = await hubstream("mirror", "sync", "up", "--wait")
    assert synced.code == 0, synced.err + synced.out
    assert "created dataset alice/secret" in synced.out  # private upstream: only the token shows it
    status: Ran = await hubstream("mirror", "status", "up")
    assert status.code == 0, status.err
    assert "token: set (stored encrypted)" in status.out
    assert alice not in status.out + status.err

    alice_here = await catalog.user("alice")  # the copy is private here too

    def download() -> bytes:  # a first download: the catalog fetches it from the upstream with the token
        got = hf_hub_download("alice/secret", "data.txt", repo_type="dataset", endpoint=catalog.url,
                              token=alice_here, cache_dir=tmp_path / "cache")  # fmt: skip
        return Path(got).read_bytes()

    assert await asyncio.to_thread(download) == SECRET_BYTES
    assert alice not in (upstream.log.read_text() if upstream.log.exists() else "")


async def test_a_plain_token_of_an_earlier_version_is_sealed_in_place(
    catalog: Catalog, upstream: Upstream, mirror_worker: object, hubstream: Any
) -> None:
    alice = await _private_upstream_repo(upstream)
    # As a row written before migration 011 reads once migrated: the token in plain text, nothing sealed.
    await catalog.pool.execute(
        """INSERT INTO mirrors (name, upstream_url, legacy_plain_token, repos)
           VALUES ('up', $1, $2, '{dataset/alice/secret}')""",
        upstream.url,
        alice,
    )
    # The catalog worker's sync runner seals it when it starts (the API does too).
    await SyncRunner(catalog.pool, catalog.outbox(), catalog.config.infra.home).prepare()
    row = await _row(catalog)
    assert row["legacy_plain_token"] is None
    assert alice not in " ".join(repr(v) for v in row.values())
    assert unseal(tokens_cipher(catalog.config.infra.home), row["token_sealed"], "up") == alice

    synced: Ran = await hubstream("mirror", "sync", "up", "--wait")
    assert synced.code == 0, synced.err + synced.out
    assert "created dataset alice/secret" in synced.out


async def test_a_token_sealed_under_another_key_fails_the_sync_in_words(
    catalog: Catalog, upstream: Upstream, mirror_worker: object, hubstream: Any
) -> None:
    # The state dir's key was replaced since the token was sealed: the sync says so, and the worker carries on.
    foreign = Fernet(Fernet.generate_key()).encrypt(b"hf_some_token")
    await catalog.pool.execute(
        "INSERT INTO mirrors (name, upstream_url, token_sealed, repos) VALUES ('up', $1, $2, '{dataset/a/b}')",
        upstream.url,
        foreign,
    )
    synced: Ran = await asyncio.wait_for(hubstream("mirror", "sync", "up", "--wait"), timeout=120)
    assert synced.code == 1
    assert "sealed with another key" in synced.err
    status: Ran = await hubstream("mirror", "status", "up")
    assert "hf_some_token" not in status.out + status.err
