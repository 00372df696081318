"""The HTTP app factory every service starts from.

`create_base_app` gives an aiohttp app with:
- a request id on every request and response (`X-Request-Id`, taken from the
  client when it sends a sane one);
- errors rendered in the service's API shape, never HTML or a traceback
  (unexpected exceptions are logged with the request id and answered 500);
- token resolution (`request[PRINCIPAL]`), with a wrong token refused at once;
- `/healthz` (process up), `/readyz` (database, broker, migrations) and
  `/metrics` (Prometheus text);
- an access log line per request, with its request id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import orjson
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from pydantic import BaseModel, ValidationError

from services.runtime import kafka as kafka_infra
from services.runtime import migrations
from services.runtime.auth import Principal, TokenExtractor
from services.runtime.errors import ApiError, ErrorShape, from_http_exception, render, validation_error
from services.runtime.keys import (
    CONFIG,
    CONSUMERS,
    ERROR_SHAPE,
    METRICS,
    MIGRATIONS,
    POOL,
    PRINCIPAL,
    REQUEST_ID,
    TOKEN_RESOLVER,
)
from services.runtime.metrics import Metrics
from services.runtime.settings import ServiceConfig

log = logging.getLogger(__name__)

OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
MAX_BODY_BYTES = 16 * 1024 * 1024

M = TypeVar("M", bound=BaseModel)


def create_base_app(
    config: ServiceConfig,
    *,
    error_shape: ErrorShape,
    token_extractor: TokenExtractor,
    auth_required: bool,
    client_max_size: int = MAX_BODY_BYTES,
) -> web.Application:
    """An app with the runtime's middlewares and ops routes; the service adds resources and routes."""
    app = web.Application(
        middlewares=[
            _request_id_middleware,
            _metrics_middleware,
            _error_middleware,
            _auth_middleware(token_extractor, auth_required),
        ],
        client_max_size=client_max_size,
    )
    app[CONFIG] = config
    app[ERROR_SHAPE] = error_shape
    app[METRICS] = Metrics(config.service)
    app[CONSUMERS] = []
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


@web.middleware
async def _request_id_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    sent = request.headers.get("X-Request-Id", "")
    request[REQUEST_ID] = sent if _REQUEST_ID_OK.match(sent) else uuid.uuid4().hex
    response = await handler(request)
    response.headers["X-Request-Id"] = request[REQUEST_ID]
    return response


@web.middleware
async def _metrics_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    metrics: Metrics = request.app[METRICS]
    metrics.requests.labels(metrics.service, request.method, route, str(response.status)).inc()
    metrics.latency.labels(metrics.service, route).observe(time.perf_counter() - started)
    return response


@web.middleware
async def _error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    shape: ErrorShape = request.app[ERROR_SHAPE]
    try:
        return await handler(request)
    except ApiError as err:
        return render(err, shape, request[REQUEST_ID])
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like pass through
        return render(from_http_exception(exc), shape, request[REQUEST_ID])
    except (asyncpg.DataError, asyncpg.ProgramLimitExceededError) as exc:
        # A value a view let through that PostgreSQL cannot take (a NUL byte, an oversized key):
        # still the client's input, so a 400 that says so, not a 500.
        log.warning("request %s %s: input refused by the database: %s", request.method, request.path, exc)
        err = ApiError(400, "InvalidInput", f"a value in the request cannot be stored: {exc}")
        return render(err, shape, request[REQUEST_ID])
    except Exception:
        log.exception("request %s %s failed (request id %s)", request.method, request.path, request[REQUEST_ID])
        err = ApiError(
            500,
            "InternalError",
            f"internal error; quote request id {request[REQUEST_ID]} to the operator",
        )
        return render(err, shape, request[REQUEST_ID])


def _auth_middleware(extract: TokenExtractor, required: bool) -> Any:
    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in OPS_PATHS:
            return await handler(request)
        token = extract(request)
        if token is None:
            if required:
                raise ApiError(401, "Unauthorized", "a token is required: send it as the API expects")
            return await handler(request)
        principal: Principal | None = await request.app[TOKEN_RESOLVER](token)
        if principal is None:
            # The Hub client keys on this exact sentence to tell a bad token from a missing repo.
            raise ApiError(401, "Unauthorized", "Invalid credentials in Authorization header")
        request[PRINCIPAL] = principal
        return await handler(request)

    return auth


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
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, status=status) from exc


def parse_query(request: web.Request, model: type[M]) -> M:
    """The query string validated by `model` (422 naming each parameter that is wrong)."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_error(exc, where="query") from exc


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path, status, duration, request id."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s -> %d in %.1f ms [%s]",
            request.remote,
            request.method,
            request.path_qs,
            response.status,
            time * 1000,
            request.get(REQUEST_ID, "-"),
        )
