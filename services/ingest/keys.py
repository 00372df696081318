"""Typed app keys of the ingest API process."""

from __future__ import annotations

from aiohttp import web

from services.ingest.chunk_store import ChunkStore

CHUNKS = web.AppKey("chunks", ChunkStore)
