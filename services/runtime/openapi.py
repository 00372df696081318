"""Each service's OpenAPI 3.1 document, declared where its routes are added.

A service's `setup_routes` adds every route through the app's `Api` (`app[API]`)
instead of `app.router`, naming the pydantic models its view parses and returns:

    api = app[API]
    api.post("/api/repos/create", views.create_repo_view, body=CreateRepoBody, ok=CreatedRepo,
             errors={403: "...", 409: "..."}, token="required", summary="Create a repo")

One call adds the aiohttp route and its operation, so a route cannot land
undocumented (and tests/services/test_openapi.py fails on any route of
`app.router` that has no operation). What every route shares is added here,
not by hand: the API's error body on each error status (401 for a missing or
bad token, 400/422 for a body that does not parse, 413 for one that is too
large, 404 where the path has parameters, 503 while PostgreSQL or Kafka cannot
be reached), the `X-Request-Id` / `X-Error-Code` headers, and the security
scheme the API's clients use. Schemas are pydantic's (JSON Schema 2020-12,
OpenAPI 3.1's own dialect), gathered into `components.schemas`.

Why our own table rather than a library: the work is pydantic's
`json_schema` plus a dict per operation. apispec would add a builder around
those dicts but no pydantic support (its plugins are for marshmallow), and
aiohttp-pydantic would turn every view into a class whose signature it
inspects; this module keeps views plain functions and the declaration one line.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Required, TypedDict, Unpack

from aiohttp import web
from pydantic import BaseModel, Field, TypeAdapter

from contracts.components import COMPONENTS_PREFIX, hoist, put
from services.runtime import http
from services.runtime.auth import TokenExtractor, api_key_token, bearer_token
from services.runtime.errors import INVALID_STATUS, ErrorShape, detail_shape, hub_shape
from services.runtime.http import json_response
from services.runtime.keys import API

OPENAPI_PATH = "/openapi.json"
OPENAPI_VERSION = "3.1.0"
API_VERSION = "0.1.0"
"""`info.version`: the version of the documents, raised with an incompatible change of an API."""

TokenUse = Literal["required", "optional", "none"]
"""required: 401 without a valid token; optional: anonymous allowed, a bad token still 401; none: ops routes."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# --- the bodies every service shares ----------------------------------------------------------------------


class HubError(BaseModel):
    """The Hub's error body; some errors add fields (e.g. `url` on RepoExists)."""

    error: str = Field(description="What went wrong, in words.")


class ErrorItem(BaseModel):
    """One validation problem, as FastAPI reports it."""

    loc: list[str | int] = Field(description='Where: ["body", "field", ...] or ["body", position].')
    msg: str
    type: str


class DetailError(BaseModel):
    """The FastAPI-style error body of Nia and Humanloop: a sentence, or a list of problems (always, with 422)."""

    detail: str | list[ErrorItem]


class Health(BaseModel):
    status: Literal["ok"]
    service: str


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    service: str
    checks: dict[str, str] = Field(
        description='database, migrations, kafka and each consumer group: "ok", or why not (e.g. "starting").'
    )


@dataclass(frozen=True)
class ErrorStyle:
    model: type[BaseModel]
    invalid_status: int
    """The status of a body or query that does not parse or validate."""


ERROR_STYLES: dict[ErrorShape, ErrorStyle] = {
    hub_shape: ErrorStyle(HubError, INVALID_STATUS[hub_shape]),
    detail_shape: ErrorStyle(DetailError, INVALID_STATUS[detail_shape]),
}

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <token>`."},
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-KEY",
        "description": "`X-API-KEY: <token>`, as the Humanloop SDK sends it.",
    },
}
SCHEMES_OF: dict[TokenExtractor, tuple[str, ...]] = {
    bearer_token: ("bearer",),
    api_key_token: ("apiKey", "bearer"),  # api_key_token falls back to a bearer header
}

ERROR_DESCRIPTIONS = {
    400: "The request is invalid.",
    401: "No token where one is required, a malformed Authorization header, or a token that is not valid.",
    403: "The token's user may not do this.",
    404: "Nothing at this path (or nothing the caller may see).",
    409: "It exists already.",
    413: "The request body is larger than this route accepts.",
    422: "The request body is not valid JSON, or does not validate.",
    503: "A dependency (PostgreSQL or Kafka) cannot be reached for now; retry, after Retry-After when sent.",
}


def _header(description: str, *, required: bool = True, **schema: str) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": "string", **schema}}


HEADERS: dict[str, dict[str, Any]] = {
    "RequestId": _header(
        "The request's id: the client's X-Request-Id when it sent a sane one; quote it to the operator."
    ),
    "ErrorCode": _header(
        "A stable code from the service's closed list (e.g. RepoNotFound, ValidationError).", pattern="^[A-Za-z]+$"
    ),
    "ErrorMessage": _header("The error in one line of latin-1 (at most 500 characters); the body has it whole."),
    "RetryAfter": _header("Seconds to wait before retrying.", required=False, pattern="^[0-9]+$"),
}


# --- the declaration --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    """As given to aiohttp, e.g. `/api/{type:models|datasets}/{name}`."""
    operation_id: str
    summary: str
    description: str | None
    token: TokenUse
    body: Any
    query: type[BaseModel] | None
    ok: Any
    status: int
    media_types: tuple[str, ...]
    """Of the answers: the `ok` model under each (a route that answers one of several formats lists them all)."""
    body_media_type: str
    errors: Mapping[int, str]
    also: Mapping[int, tuple[Any, str]]


class Declared(TypedDict, total=False):
    """What a route declares besides its method, path and view (see `Api.describe`)."""

    ok: Required[Any]
    status: int
    body: Any
    query: type[BaseModel] | None
    errors: Mapping[int, str] | Iterable[int]
    token: TokenUse | None
    summary: str | None
    media_type: str | tuple[str, ...]
    body_media_type: str
    also: Mapping[int, tuple[Any, str]] | None
    operation_id: str | None


class Api:
    """A service's routes and their OpenAPI operations, added together."""

    def __init__(
        self,
        app: web.Application,
        *,
        title: str,
        error_shape: ErrorShape,
        token_extractor: TokenExtractor,
        token_default: TokenUse,
    ) -> None:
        if error_shape not in ERROR_STYLES:
            raise ValueError(
                f"no OpenAPI error body for the error shape {error_shape.__name__}; add it to ERROR_STYLES"
            )
        if token_extractor not in SCHEMES_OF:
            raise ValueError(f"no security scheme for {token_extractor.__name__}; add it to SCHEMES_OF")
        self._app = app
        self.title = title
        self.errors = ERROR_STYLES[error_shape]
        self.schemes = SCHEMES_OF[token_extractor]
        self.token_default: TokenUse = token_default
        self.operations: list[Operation] = []
        self._document: dict[str, Any] | None = None
        self._describe_ops_routes()
        self.get(OPENAPI_PATH, serve_openapi, ok=dict[str, Any], token="none", summary="This OpenAPI document")

    def get(self, path: str, handler: Handler, **declared: Unpack[Declared]) -> None:
        """Add a GET route (aiohttp answers HEAD on it too) and its operation; see `route`."""
        self.route("GET", path, handler, **declared)

    def post(self, path: str, handler: Handler, **declared: Unpack[Declared]) -> None:
        self.route("POST", path, handler, **declared)

    def put(self, path: str, handler: Handler, **declared: Unpack[Declared]) -> None:
        self.route("PUT", path, handler, **declared)

    def patch(self, path: str, handler: Handler, **declared: Unpack[Declared]) -> None:
        self.route("PATCH", path, handler, **declared)

    def delete(self, path: str, handler: Handler, **declared: Unpack[Declared]) -> None:
        self.route("DELETE", path, handler, **declared)

    def route(self, method: str, path: str, handler: Handler, **declared: Unpack[Declared]) -> None:
        """Add `method path` to the app and its operation to the document.

        Keywords (see `describe`): `ok` (required: the response model, or None
        for an empty answer), `status` (200), `body` (the request model),
        `query` (a model whose fields are the query parameters), `errors`
        (statuses this route adds, with what they mean), `token`
        ("required" / "optional" / "none"; the service's default),
        `summary` (else the view's docstring), `media_type` (of the answers;
        a tuple when the route answers one of several formats), `body_media_type`
        (of the request body: "multipart/form-data" for a form, whose `body`
        model names its fields), `also` (other answers that are not errors:
        {status: (model, description)}), `operation_id` (else the view's name).
        """
        if method == "GET":
            self._app.router.add_get(path, handler)
        else:
            self._app.router.add_route(method, path, handler)
        self.describe(method, path, handler, **declared)

    def describe(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        ok: Any,
        status: int = 200,
        body: Any = None,
        query: type[BaseModel] | None = None,
        errors: Mapping[int, str] | Iterable[int] = (),
        token: TokenUse | None = None,
        summary: str | None = None,
        media_type: str | tuple[str, ...] = "application/json",
        body_media_type: str = "application/json",
        also: Mapping[int, tuple[Any, str]] | None = None,
        operation_id: str | None = None,
    ) -> None:
        """Document a route added elsewhere (the runtime's ops routes).

        `operation_id` defaults to the view's name; give one when a view serves two paths (an API's alias).
        """
        if self._document is not None:
            raise RuntimeError("the OpenAPI document was already served; declare routes before the app starts")
        doc = (handler.__doc__ or "").strip()
        first, _, rest = doc.partition("\n\n")
        summary = summary or " ".join(first.split())
        if not summary:
            raise ValueError(f"{method} {path}: give a summary= or a docstring to {handler.__name__}")
        self.operations.append(
            Operation(
                method=method.upper(),
                path=path,
                operation_id=operation_id or handler.__name__,
                summary=summary,
                description=" ".join(rest.split()) or None,
                token=token or self.token_default,
                body=body,
                query=query,
                ok=ok,
                status=status,
                media_types=(media_type,) if isinstance(media_type, str) else tuple(media_type),
                body_media_type=body_media_type,
                errors=dict(errors) if isinstance(errors, Mapping) else dict.fromkeys(errors, ""),
                also=dict(also or {}),
            )
        )

    # --- the document ---

    def document(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document (built once; the routes are fixed when the app starts)."""
        if self._document is None:
            self._document = self._build()
        return self._document

    def undocumented(self) -> list[str]:
        """Routes of the app without an operation ("METHOD /path"); empty when every route is documented."""
        documented = {(op.method, canonical_path(op.path)[0]) for op in self.operations}
        routed = [
            (route.method, route.resource.canonical if route.resource is not None else "?")
            for route in self._app.router.routes()
        ]
        return [
            f"{method} {path}"
            for method, path in routed
            # aiohttp adds a HEAD route beside each GET; the GET's operation stands for both.
            if (method, path) not in documented and not (method == "HEAD" and ("GET", path) in routed)
        ]

    def _build(self) -> dict[str, Any]:
        schemas: dict[str, Any] = {}
        hoist(schemas, self.errors.model.__name__, self.errors.model.model_json_schema(mode="serialization"))
        paths: dict[str, Any] = {}
        for op in self.operations:
            path, parameters = canonical_path(op.path)
            put(paths.setdefault(path, {}), op.method.lower(), self._operation(op, parameters, schemas), what="route")
        ids = [op.operation_id for op in self.operations]
        if duplicated := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"several routes share the view(s) {duplicated}: operation ids must be unique")
        return {
            "openapi": OPENAPI_VERSION,
            "info": {"title": self.title, "version": API_VERSION, "description": self._info_description()},
            "paths": paths,
            "components": {
                "schemas": dict(sorted(schemas.items())),
                "securitySchemes": {name: SECURITY_SCHEMES[name] for name in self.schemes},
                "headers": HEADERS,
            },
        }

    def _info_description(self) -> str:
        shape = (
            '`{"error": "..."}`'
            if self.errors.model is HubError
            else ('`{"detail": "..."}`, and always `{"detail": [{"loc", "msg", "type"}]}` with a 422')
        )
        return (
            f"Errors answer {shape}, always with `X-Error-Code` (a stable code) and `X-Request-Id` "
            "(the client's own when it sends a sane one). Generated from the service's routes; served at "
            f"`{OPENAPI_PATH}` and exported by `hubstream contracts export`."
        )

    def _operation(self, op: Operation, parameters: list[dict[str, Any]], schemas: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary}
        if op.description:
            out["description"] = op.description
        if op.query is not None:
            parameters = parameters + _query_parameters(op.query, schemas)
        if parameters:
            out["parameters"] = parameters
        if op.body is not None:
            out["requestBody"] = {
                "required": True,
                "content": {op.body_media_type: {"schema": _schema(op.body, "validation", schemas)}},
            }
        out["security"] = self._security(op.token)
        answers = {op.status: (op.ok, "OK"), **op.also}
        responses: dict[int, Any] = {}
        for status, description in self._error_statuses(op, parameters).items():
            responses[status] = self._error_response(status, description)
        for status, (model, description) in answers.items():
            answer: dict[str, Any] = {"description": description, "headers": {"X-Request-Id": _header_ref("RequestId")}}
            if model is not None:
                schema = _schema(model, "serialization", schemas)
                answer["content"] = {media_type: {"schema": schema} for media_type in op.media_types}
            responses[status] = answer
        out["responses"] = {str(status): responses[status] for status in sorted(responses)}
        return out

    def _security(self, token: TokenUse) -> list[dict[str, list[str]]]:
        if token == "none":
            return []
        schemes: list[dict[str, list[str]]] = [{name: []} for name in self.schemes]
        return [{}, *schemes] if token == "optional" else schemes

    def _error_statuses(self, op: Operation, parameters: list[dict[str, Any]]) -> dict[int, str]:
        statuses: dict[int, str] = {}
        if op.token != "none":
            statuses[401] = ""
            statuses[503] = ""
        if op.body is not None or op.query is not None or any(p["in"] == "path" for p in parameters):
            # Input can be invalid; and any value the database cannot take (a NUL byte) is refused with this
            # status, wherever it came from (services/runtime/middlewares.py).
            statuses[self.errors.invalid_status] = ""
        if op.body is not None:
            statuses[413] = ""
        if any(p["in"] == "path" for p in parameters):
            statuses[404] = ""
        statuses.update(op.errors)
        return {status: text or ERROR_DESCRIPTIONS.get(status, "") for status, text in statuses.items()}

    def _error_response(self, status: int, description: str) -> dict[str, Any]:
        headers = {
            "X-Request-Id": _header_ref("RequestId"),
            "X-Error-Code": _header_ref("ErrorCode"),
            "X-Error-Message": _header_ref("ErrorMessage"),
        }
        if status == 503:
            headers["Retry-After"] = _header_ref("RetryAfter")
        return {
            "description": description or f"Error {status}.",
            "headers": headers,
            "content": {"application/json": {"schema": {"$ref": COMPONENTS_PREFIX + self.errors.model.__name__}}},
        }

    def _describe_ops_routes(self) -> None:
        self.describe("GET", "/healthz", http.healthz, ok=Health, token="none", summary="The process is up")
        self.describe(
            "GET",
            "/readyz",
            http.readyz,
            ok=Readiness,
            token="none",
            summary="Database, broker, migrations and consumers are ready",
            also={503: (Readiness, "Not ready: `checks` says what is not.")},
        )
        self.describe(
            "GET",
            "/metrics",
            http.metrics,
            ok=str,
            token="none",
            media_type="text/plain",
            summary="Prometheus metrics (text exposition format)",
        )


async def serve_openapi(request: web.Request) -> web.Response:
    return json_response(request.app[API].document())


# --- paths and schemas ------------------------------------------------------------------------------------

# aiohttp's own syntax: {name} or {name:regex}, where the regex may hold one level of {m,n}.
_PATH_PARAM = re.compile(r"\{(?P<name>[_a-zA-Z][_a-zA-Z0-9]*)(?::(?P<regex>[^{}]*(?:\{[^{}]*\}[^{}]*)*))?\}")
_ALTERNATIVES = re.compile(r"^[A-Za-z0-9_.-]+(?:\|[A-Za-z0-9_.-]+)*$")


def canonical_path(path: str) -> tuple[str, list[dict[str, Any]]]:
    """An aiohttp path as OpenAPI writes it (`{name}`), with a parameter for each variable part."""
    parameters: list[dict[str, Any]] = []
    for match in _PATH_PARAM.finditer(path):
        regex = match["regex"]
        if regex is None:
            schema: dict[str, Any] = {"type": "string", "minLength": 1}
        elif _ALTERNATIVES.match(regex):
            schema = {"type": "string", "enum": regex.split("|")}
        else:
            schema = {"type": "string", "pattern": f"^(?:{regex})$"}
        parameters.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return _PATH_PARAM.sub(lambda m: "{" + m["name"] + "}", path), parameters


def _schema(annotation: Any, mode: Literal["validation", "serialization"], schemas: dict[str, Any]) -> dict[str, Any]:
    """The schema of a model (a `$ref` into components) or of any other type pydantic describes."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        hoist(schemas, annotation.__name__, annotation.model_json_schema(mode=mode))
        return {"$ref": COMPONENTS_PREFIX + annotation.__name__}
    inline: dict[str, Any] = {}
    hoist(inline, "inline", TypeAdapter(annotation).json_schema(mode=mode))
    schema = inline.pop("inline")
    for name, definition in inline.items():
        put(schemas, name, definition, what="schema")
    return schema


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    inline: dict[str, Any] = {}
    hoist(inline, "query", model.model_json_schema(mode="validation"))
    schema = inline.pop("query")
    for name, definition in inline.items():
        put(schemas, name, definition, what="schema")
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}
