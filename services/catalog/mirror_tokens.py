"""Mirror tokens at rest: sealed with the catalog's secrets key, opened only to call the upstream.

The key is the one space secrets use (space_secrets.py: Fernet, `<HUBSTREAM_HOME>/keys/space-secrets.key`, made on
first use, mode 0600, never in the database): a database dump alone reveals no token, and an operator keeps one key
file for both. `hubstream mirror add` seals with it, the worker (syncs) and the API (first downloads of mirrored
files) open with it, all from the same state dir. Nothing prints or logs a token; `mirror status` says whether one
is set.

Rows written before migration 011 hold their token in plain text (`legacy_plain_token`); SQL cannot seal them
without the key, so every catalog process seals them in place when it starts (`seal_plain_tokens`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web
from cryptography.fernet import Fernet, InvalidToken

from services.catalog import store_mirror
from services.catalog.space_secrets import key_path, load_or_create_key
from services.runtime.keys import CONFIG, POOL

log = logging.getLogger(__name__)

MIRROR_TOKENS = web.AppKey("mirror_tokens", Fernet)


class TokenUnreadable(Exception):
    """A sealed token the key at hand does not open (the state dir's key was replaced or lost)."""


def tokens_cipher(home: Path) -> Fernet:
    """The cipher of the catalog's secrets key in the state dir `home` (the key is made if there is none)."""
    return Fernet(load_or_create_key(key_path(home)))


def seal(cipher: Fernet, token: str | None) -> bytes | None:
    return None if token is None else cipher.encrypt(token.encode())


def unseal(cipher: Fernet, sealed: bytes | None, mirror: str) -> str | None:
    if sealed is None:
        return None
    try:
        return cipher.decrypt(bytes(sealed)).decode()
    except InvalidToken as exc:
        raise TokenUnreadable(
            f"the token of mirror {mirror} was sealed with another key than the state dir's secrets key "
            f"(keys/{key_path(Path()).name}): record it again with `hubstream mirror remove {mirror}` and "
            f"`hubstream mirror add {mirror} ... --token TOKEN`"
        ) from exc


async def seal_plain_tokens(pool: asyncpg.Pool, cipher: Fernet) -> int:
    """Seal, in place, the tokens an earlier version kept in plain text; how many. Safe to run concurrently (the
    rows are locked; a second process finds none left)."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await store_mirror.plain_tokens(conn)
        for row in rows:
            await store_mirror.set_sealed_token(conn, row["name"], seal(cipher, row["legacy_plain_token"]))
    if rows:
        log.info("sealed the plain-text upstream tokens of %d mirror(s) with the catalog's secrets key", len(rows))
    return len(rows)


async def open_tokens(pool: asyncpg.Pool, home: Path) -> Fernet:
    """The cipher of the state dir's secrets key, once the tokens an earlier version kept in plain text are sealed
    with it: what every process that opens tokens (the API, the sync worker) does first."""
    cipher = await asyncio.to_thread(tokens_cipher, home)
    await seal_plain_tokens(pool, cipher)
    return cipher


async def mirror_tokens_ctx(app: web.Application) -> AsyncIterator[None]:
    app[MIRROR_TOKENS] = await open_tokens(app[POOL], app[CONFIG].infra.home)
    yield
