"""The file store as an app resource: opened once at start, after the database pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from services.catalog import store_files
from services.catalog.blobs import LocalBlobStore
from services.catalog.files_settings import FileSettings
from services.catalog.gitfiles import DEFAULT_GITATTRIBUTES
from services.catalog.keys import BLOBS, FILE_SETTINGS, UPLOAD_SIGNING_KEY
from services.runtime.keys import CONFIG, POOL


async def files_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = FileSettings()
    store = blob_store(settings, app[CONFIG].infra.home)
    # Every new repo's first commit names this file; make sure its content is there to download.
    await store.put_bytes(DEFAULT_GITATTRIBUTES)
    app[FILE_SETTINGS] = settings
    app[BLOBS] = store
    app[UPLOAD_SIGNING_KEY] = (await store_files.signing_key(app[POOL], "lfs-upload")).encode()
    yield


def blob_store(settings: FileSettings, home: Path) -> LocalBlobStore:
    """The file store every catalog process shares (the API writes to it, the worker reads and writes)."""
    return LocalBlobStore(settings.blob_dir or home / "blobs")
