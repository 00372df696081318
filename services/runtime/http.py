"""The HTTP app factory every service starts from.

`create_base_app` gives an aiohttp app with:
- the runtime's middlewares (middlewares.py): request ids, metrics, errors in
  the service's API shape (503 + Retry-After when a dependency is down, 500
  for a bug, never HTML or a traceback), per-route body limits (limits.py)
  and token resolution;
- `/healthz` (process up), `/readyz` (database, broker, migrations) and
  `/metrics` (Prometheus text);
- an access log line per request, with its request id and without secrets.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

import orjson
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from pydantic import BaseModel, ValidationError

from services.runtime import kafka as kafka_infra
from services.runtime import migrations
from services.runtime.auth import TokenExtractor
from services.runtime.errors import INVALID_STATUS, ApiError, ErrorShape, validation_error
from services.runtime.keys import CONFIG, CONSUMERS, ERROR_SHAPE, METRICS, MIGRATIONS, POOL, REQUEST_ID
from services.runtime.limits import DEFAULT_MAX_BODY
from services.runtime.metrics import Metrics
from services.runtime.middlewares import runtime_middlewares, stamp_request_id
from services.runtime.settings import ServiceConfig

log = logging.getLogger(__name__)

READ_BUFSIZE = 1024 * 1024

# The longest request line (method, path and query) and header line a connection reads. aiohttp's default,
# 8190 bytes, is refused by its HTTP parser before any middleware runs, so the client got a plain-text 400 with
# none of the API's error shape or headers (schemathesis found it with a 12 KB query string). Longer lines now
# reach the routes, which validate them like any input; past this limit the parser still refuses, with a 400.
# Go's net/http allows 1 MiB of headers; 64 KiB bounds what a slow client makes a connection hold.
MAX_LINE_BYTES = 64 * 1024

M = TypeVar("M", bound=BaseModel)


def create_base_app(
    config: ServiceConfig,
    *,
    error_shape: ErrorShape,
    token_extractor: TokenExtractor,
    auth_required: bool,
) -> web.Application:
    """An app with the runtime's middlewares and ops routes; the service adds resources and routes."""
    app = web.Application(
        middlewares=runtime_middlewares(token_extractor, auth_required),
        # Each route's own limit (limits.max_body) replaces this per request.
        client_max_size=DEFAULT_MAX_BODY,
        # How much of a request body a connection buffers before it stops reading the socket: aiohttp's 64 KiB
        # makes a streamed upload stop and restart reading every few pieces, a round trip through the event
        # loop (and the scheduler, on a busy machine) each time. Only bodies that arrive faster than the view
        # reads them fill it.
        handler_args={"read_bufsize": READ_BUFSIZE, "max_line_size": MAX_LINE_BYTES, "max_field_size": MAX_LINE_BYTES},
    )
    app[CONFIG] = config
    app[ERROR_SHAPE] = error_shape
    app[METRICS] = Metrics(config.service)
    app[CONSUMERS] = []
    app.on_response_prepare.append(stamp_request_id)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "service": request.app[CONFIG].service})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    config: ServiceConfig = app[CONFIG]
    checks: dict[str, str] = {}
    try:
        async with app[POOL].acquire() as conn:
            await conn.fetchval("SELECT 1")
            current = await migrations.is_current(conn, config.schema, app[MIGRATIONS])
        checks["database"] = "ok"
        checks["migrations"] = "ok" if current else "pending: run `hubstream migrate`"
    except Exception as exc:
        checks["database"] = f"unavailable: {exc}"
    try:
        await kafka_infra.check_available(config.infra.kafka)
        checks["kafka"] = "ok"
    except Exception as exc:
        checks["kafka"] = f"unavailable: {exc}"
    for consumer in app[CONSUMERS]:
        checks[f"consumer:{consumer.group}"] = "ok" if consumer.ready.is_set() else "starting"
    ready = all(v == "ok" for v in checks.values())
    return json_response(
        {"status": "ready" if ready else "unavailable", "service": config.service, "checks": checks},
        status=200 if ready else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[METRICS].render()
    return web.Response(
        body=body, content_type="text/plain", charset="utf-8", headers={"X-Content-Type-Options": "nosniff"}
    )


def iso_utc(value: datetime | None) -> str | None:
    """A timestamp as clients of these APIs expect it: ISO 8601 with a `Z`."""
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        content_type="application/json",
        headers=headers,
    )


async def read_json(request: web.Request, *, status: int = 400) -> Any:
    """The request body as JSON, or an ApiError (`status`) saying why it is not.

    FastAPI-style APIs (Nia, Humanloop) answer a malformed body with 422 and a
    `json_invalid` detail item; the Hub answers 400.
    """
    raw = await request.read()
    if not raw:
        problem, position = "the request body is empty; expected a JSON object", 0
    else:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            problem, position = f"the request body is not valid JSON: {exc}", exc.pos
    raise ApiError(
        status,
        "InvalidJson",
        problem,
        details=[{"loc": ["body", position], "msg": "JSON decode error", "type": "json_invalid"}],
    )


async def parse_body(request: web.Request, model: type[M], *, status: int = 422) -> M:
    """The body validated by `model`; errors name each field that is wrong."""
    data = await read_json(request, status=status)
    if not isinstance(data, dict):
        raise ApiError(
            status,
            "ValidationError",
            f"the request body must be a JSON object, not {type(data).__name__}",
            details=[{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}],
        )
    try:
        # Strict JSON validation, as the OpenAPI document states the types: 0 is not a boolean, "5" not a
        # number (lax mode would take both), while UUIDs and times still arrive as JSON strings.
        return model.model_validate_json(await request.read(), strict=True)
    except ValidationError as exc:
        raise validation_error(exc, status=status) from exc


def parse_query(request: web.Request, model: type[M], values: dict[str, Any] | None = None) -> M:
    """The query string (or `values` read from it) validated by `model`; else the API's invalid-input status
    (the Hub's 400, FastAPI's 422) naming each parameter that is wrong."""
    try:
        return model.model_validate(dict(request.query) if values is None else values)
    except ValidationError as exc:
        raise validation_error(exc, status=INVALID_STATUS.get(request.app[ERROR_SHAPE], 422), where="query") from exc


# Query parameters whose values may be credentials (some clients put a token in the URL: `?token=`,
# `?access_token=`, `?hf_token=`, `?api_key=`): any name containing one of these words.
SECRET_PARAM_WORDS = ("token", "key", "secret", "password", "auth", "signature", "credential")


def _secret_param(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_PARAM_WORDS)


def loggable_path(request: web.BaseRequest) -> str:
    """The path and query, with the value of any credential-looking parameter replaced by `***`."""
    if not request.query_string:
        return request.path
    pairs = parse_qsl(request.query_string, keep_blank_values=True)
    if not any(_secret_param(k) for k, _ in pairs):
        return request.path_qs
    scrubbed = [(k, "***" if _secret_param(k) else v) for k, v in pairs]
    return f"{request.path}?{urlencode(scrubbed, safe='*')}"


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path (credentials in the query masked), status, duration, request id."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s -> %d in %.1f ms [%s]",
            request.remote,
            request.method,
            loggable_path(request),
            response.status,
            time * 1000,
            request.get(REQUEST_ID, "-"),
        )
