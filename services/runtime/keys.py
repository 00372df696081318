"""Typed application keys shared by every service's aiohttp app."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web
from aiokafka import AIOKafkaProducer

if TYPE_CHECKING:
    pass

CONFIG = web.AppKey("config", "ServiceConfig")
POOL = web.AppKey("pool", asyncpg.Pool)
PRODUCER = web.AppKey("producer", AIOKafkaProducer)
OUTBOX = web.AppKey("outbox", "Outbox")
CONSUMERS = web.AppKey("consumers", "list[EventConsumer]")
METRICS = web.AppKey("metrics", "Metrics")
ERROR_SHAPE = web.AppKey("error_shape", "ErrorShape")
TOKEN_RESOLVER = web.AppKey("token_resolver", "TokenResolver")
MIGRATIONS = web.AppKey("migrations", list)
API = web.AppKey("api", "Api")  # the routes and their OpenAPI document (services/runtime/openapi.py)

# Per-request values (set by the middlewares).
REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", "Principal")

__all__ = [
    "API",
    "CONFIG",
    "CONSUMERS",
    "ERROR_SHAPE",
    "METRICS",
    "MIGRATIONS",
    "OUTBOX",
    "POOL",
    "PRINCIPAL",
    "PRODUCER",
    "REQUEST_ID",
    "TOKEN_RESOLVER",
]
