"""Space secrets are encrypted at rest with Fernet (cryptography's AES-128-CBC + HMAC-SHA256 recipe), under a key
kept in the state dir (`<HUBSTREAM_HOME>/keys/space-secrets.key`), never in the database: a database dump alone
does not reveal them. hubstream runs no Space apps, so nothing here decrypts them: they are never returned."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from cryptography.fernet import Fernet

from services.runtime.keys import CONFIG

SECRETS_CIPHER = web.AppKey("space_secrets_cipher", Fernet)


def key_path(home: Path) -> Path:
    return home / "keys" / "space-secrets.key"


def load_or_create_key(path: Path) -> bytes:
    """The key in `path`, created (mode 0600) if there is none. Several catalog processes may start at once on one
    state dir: the key is written to a private temporary file and linked into place, which fails if another
    process linked its key first; that one is then read, so they all use the same key."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(Fernet.generate_key())
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_bytes().strip()


async def secrets_ctx(app: web.Application) -> AsyncIterator[None]:
    key = await asyncio.to_thread(load_or_create_key, key_path(app[CONFIG].infra.home))
    app[SECRETS_CIPHER] = Fernet(key)
    yield
