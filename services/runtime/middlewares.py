"""The middlewares every service app runs, outermost first.

1. request id: on every request and response (`X-Request-Id`; the header is
   added as each response is prepared, so streamed ones carry it too);
2. metrics: requests and latency by route and status;
3. errors: whatever is raised inside becomes a JSON body in the API's shape
   with an `X-Error-Code` from the closed list (errors.RuntimeErrorCode plus
   the service's own) — a dependency that is down is a 503 with
   `Retry-After`, a bug a 500 with the request id, never a traceback;
4. body limit: a body over the route's limit is a 413 (see limits.py);
5. auth: the token resolved to `request[PRINCIPAL]`, a wrong one refused.

Being inside (3), failures of (4) and (5), such as the token lookup not
getting a database connection, are answered the same way as a view's.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import asyncpg
from aiohttp import web

from services.runtime.auth import Principal, TokenExtractor
from services.runtime.dependencies import Dependency, unavailable_dependency
from services.runtime.errors import INVALID_STATUS, ApiError, ErrorShape, from_http_exception, render
from services.runtime.keys import CONFIG, ERROR_SHAPE, METRICS, PRINCIPAL, REQUEST_ID, TOKEN_RESOLVER
from services.runtime.limits import body_limit, too_large
from services.runtime.metrics import Metrics

log = logging.getLogger(__name__)

OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

# What a client is told to wait before retrying a 503: a restart of PostgreSQL or the broker
# takes about this long; gateways and the Hub/Nia clients honour the header.
RETRY_AFTER_SECONDS = 2

_DEPENDENCY_ERRORS: dict[Dependency, tuple[str, str]] = {
    "database": ("DatabaseUnavailable", "its database (PostgreSQL)"),
    "broker": ("BrokerUnavailable", "its message broker (Kafka)"),
}


def runtime_middlewares(token_extractor: TokenExtractor, auth_required: bool) -> list[Any]:
    return [
        request_id_middleware,
        metrics_middleware,
        error_middleware,
        body_limit_middleware,
        auth_middleware(token_extractor, auth_required),
    ]


@web.middleware
async def request_id_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    sent = request.headers.get("X-Request-Id", "")
    request[REQUEST_ID] = sent if _REQUEST_ID_OK.match(sent) else uuid.uuid4().hex
    return await handler(request)


async def stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: every answer carries X-Request-Id, streamed ones too (a view that streams a
    download sends its headers itself, before any middleware sees the response)."""
    if REQUEST_ID in request:
        response.headers["X-Request-Id"] = request[REQUEST_ID]


@web.middleware
async def metrics_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    metrics: Metrics = request.app[METRICS]
    metrics.requests.labels(metrics.service, request.method, route, str(response.status)).inc()
    metrics.latency.labels(metrics.service, route).observe(time.perf_counter() - started)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
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
        # A value a view let through that PostgreSQL cannot take (a NUL byte, an oversized key): still the
        # client's input, so the API's status for invalid input (400 or 422) that says so, not a 500.
        log.warning("request %s %s: input refused by the database: %s", request.method, request.path, exc)
        status = INVALID_STATUS.get(shape, 400)
        err = ApiError(status, "InvalidInput", f"a value in the request cannot be stored: {exc}")
        return render(err, shape, request[REQUEST_ID])
    except Exception as exc:
        if (dependency := unavailable_dependency(exc)) is not None:
            return render(_dependency_down(request, dependency, exc), shape, request[REQUEST_ID])
        log.exception("request %s %s failed (request id %s)", request.method, request.path, request[REQUEST_ID])
        err = ApiError(
            500,
            "InternalError",
            f"internal error; quote request id {request[REQUEST_ID]} to the operator",
        )
        return render(err, shape, request[REQUEST_ID])


def _dependency_down(request: web.Request, dependency: Dependency, exc: Exception) -> ApiError:
    """A 503 that tells the client to retry, counted and logged for the operator (without a traceback)."""
    metrics: Metrics = request.app[METRICS]
    metrics.dependency_errors.labels(metrics.service, dependency).inc()
    log.warning(
        "request %s %s (request id %s): %s unavailable, answered 503: %s: %s",
        request.method,
        request.path,
        request[REQUEST_ID],
        dependency,
        type(exc).__name__,
        exc,
    )
    code, what = _DEPENDENCY_ERRORS[dependency]
    service = request.app[CONFIG].service
    return ApiError(
        503,
        code,
        f"the {service} service cannot reach {what} right now. "
        f"Retry in {RETRY_AFTER_SECONDS} s (request id {request[REQUEST_ID]})",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.match_info.http_exception is not None:
        return await handler(request)  # no such route: 404/405 without reading the body
    limit = body_limit(request.match_info.handler)
    if request.content_length is not None and request.content_length > limit.max_bytes:
        raise too_large(limit, request.content_length)  # refused before a byte of it is read
    try:
        # aiohttp's own check applies to buffered reads (read/json/post), with this route's limit.
        return await handler(request.clone(client_max_size=limit.max_bytes))
    except web.HTTPRequestEntityTooLarge:
        raise too_large(limit) from None  # a chunked body that passed the limit while being read


def auth_middleware(extract: TokenExtractor, required: bool) -> Any:
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
