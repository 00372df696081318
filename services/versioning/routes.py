"""The versioning service's routes (Humanloop's /v5 paths) come with the versioning issue."""

from __future__ import annotations

from aiohttp import web


def setup_routes(app: web.Application) -> None:
    del app  # only the runtime's /healthz, /readyz and /metrics so far
