"""The catalog's own application keys (the runtime's shared ones are in services/runtime/keys.py)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from services.catalog.blobs import BlobStore
from services.catalog.files_settings import FileSettings

BLOBS = web.AppKey("blobs", BlobStore)
FILE_SETTINGS = web.AppKey("file_settings", FileSettings)
UPLOAD_SIGNING_KEY = web.AppKey("upload_signing_key", bytes)
MIRROR_HTTP = web.AppKey("mirror_http", aiohttp.ClientSession)  # fetches mirrored files from their upstream
MIRROR_API = web.AppKey("mirror_api", aiohttp.ClientSession)  # reads upstreams' Hub API (JSON, decompressed)
