"""HTTP errors: one exception type, rendered in each public API's own shape.

Views raise `ApiError(status, code, message)`. The app's error middleware turns
it, and anything aiohttp or a bug raises, into the shape the API's real
clients parse (see `ErrorShape`), always with `X-Request-Id` and a stable
`X-Error-Code`. Never an HTML page, never a stack trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import ValidationError

# The codes the runtime itself sends as `X-Error-Code`, whatever the service. Each service's own
# closed list (e.g. services/catalog/errors.py) is these plus its domain codes; codes are public
# and stable: add new ones, never rename.
RuntimeErrorCode = Literal[
    "BadRequest",  # a malformed request aiohttp refused before any view saw it
    "Unauthorized",
    "Forbidden",
    "NotFound",  # no such route
    "MethodNotAllowed",
    "PayloadTooLarge",  # the body is over the route's limit (see services/runtime/limits.py)
    "UnsupportedMediaType",
    "InvalidJson",
    "ValidationError",
    "InvalidInput",  # a value the database cannot store
    "DatabaseUnavailable",  # 503 + Retry-After: PostgreSQL cannot be reached right now
    "BrokerUnavailable",  # 503 + Retry-After: Kafka cannot be reached right now
    "InternalError",  # a bug; the body carries the request id to find the traceback by
]


_HTTP_CODES: dict[int, RuntimeErrorCode] = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.extra = extra or {}


def validation_error(exc: ValidationError, *, status: int = 422, where: str = "body") -> ApiError:
    """A pydantic error as an `ApiError` whose details use FastAPI's `{loc, msg, type}` items."""
    details = [{"loc": [where, *err["loc"]], "msg": err["msg"], "type": err["type"]} for err in exc.errors()]
    summary = "; ".join(f"{'.'.join(str(p) for p in d['loc'][1:]) or where}: {d['msg']}" for d in details)
    return ApiError(status, "ValidationError", f"invalid request {where}: {summary}", details=details)


def from_http_exception(exc: web.HTTPException) -> ApiError:
    status = exc.status
    code = _HTTP_CODES.get(status, "InternalError" if status >= 500 else "BadRequest")
    if status == 404:
        message = "no such route: check the method and path"
    elif status == 405:
        allowed = ", ".join(sorted(getattr(exc, "allowed_methods", ())))
        # RFC 9110 §15.5.6: a 405 must say which methods the resource has.
        return ApiError(status, code, f"method not allowed; allowed: {allowed}", headers={"Allow": allowed})
    else:
        message = exc.text or (HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error")
        if message.startswith(f"{status}: "):
            message = message[len(f"{status}: ") :]
    return ApiError(status, code, message)


# An error shape renders an ApiError as the JSON body of one public API.
ErrorShape = Callable[[ApiError], dict[str, Any]]


def hub_shape(err: ApiError) -> dict[str, Any]:
    """Hugging Face Hub: `{"error": message}` (the client also reads X-Error-Code / X-Error-Message)."""
    return {"error": err.message, **err.extra}


def detail_shape(err: ApiError) -> dict[str, Any]:
    """FastAPI style (Nia, Humanloop): a list of `{loc, msg, type}` for validation, else a string.

    A 422's detail is always a list, as FastAPI's is: the Humanloop SDK reads every 422 as an
    HTTPValidationError, and a string there fails its parsing instead of raising its typed error. A 422
    without items of its own (a value the database refused, a path or CSV the domain refused) is one item,
    whose `type` is the error code and whose `loc` is empty: it is not about one field.
    """
    detail: Any = err.details if err.details is not None else err.message
    if err.status == 422 and err.details is None:
        detail = [{"loc": [], "msg": err.message, "type": err.code}]
    return {"detail": detail, **err.extra}


# The status of input that does not parse, validate or fit in the database, by error shape: the Hub answers 400,
# FastAPI-style APIs 422. Every route that takes input (a body, a query, a path parameter) documents it (openapi.py).
INVALID_STATUS: dict[ErrorShape, int] = {hub_shape: 400, detail_shape: 422}


# Characters a header value may not carry: aiohttp refuses CR, LF and NUL (header injection) and so fails
# the whole response; the other control characters are dropped too, for the clients' sake.
_NOT_IN_HEADERS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def header_text(message: str, limit: int = 500) -> str:
    """`message` as a header value: one line of printable latin-1 (others as `?`), at most `limit` characters."""
    return _NOT_IN_HEADERS.sub(" ", message.encode("latin-1", "replace").decode("latin-1"))[:limit]


def render(err: ApiError, shape: ErrorShape, request_id: str) -> web.Response:
    headers = {
        "X-Error-Code": err.code,
        # Header values must be one line of latin-1 without control characters (aiohttp drops the connection
        # rather than send one, and a message may quote the client's input); the body carries the full text.
        "X-Error-Message": header_text(err.message),
        "X-Request-Id": request_id,
        **err.headers,
    }
    return web.Response(
        status=err.status,
        body=orjson.dumps(shape(err)),
        content_type="application/json",
        headers=headers,
    )
