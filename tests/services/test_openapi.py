"""Each service's OpenAPI document: every route in it, valid OpenAPI 3.1, the API's errors and auth on each route.

These build the apps without starting them (no database, no broker); the
served document and the answers themselves are checked against live services
by tests/e2e/test_fuzz.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from pydantic import BaseModel
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from services.registry import SERVICE_NAMES, definition, openapi_document
from services.runtime.keys import API
from services.runtime.openapi import OPENAPI_PATH, canonical_path
from services.runtime.service import build_app
from services.runtime.settings import HttpSettings, InfraSettings, ServiceConfig
from tests.contracts.test_export import _refs, _resolve

OPS_PATHS = {"/healthz", "/readyz", "/metrics", OPENAPI_PATH}
METHODS = {"get", "post", "put", "patch", "delete"}


def _app(name: str) -> web.Application:
    return build_app(definition(name), ServiceConfig(service=name, infra=InfraSettings(), http=HttpSettings()))


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_route_of_the_app_has_an_operation(name: str) -> None:
    app = _app(name)
    assert app[API].undocumented() == []
    document = app[API].document()
    routed = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    assert {(path, method) for path, method, _ in _operations(document)} == routed
    assert set(document["paths"]) >= OPS_PATHS


def test_a_route_added_around_the_declaration_is_reported() -> None:
    app = _app("ingest")

    async def sneaky(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/v2/undocumented", sneaky)
    app.router.add_post(r"/v2/things/{thing_id:\d+}", sneaky)
    assert app[API].undocumented() == ["GET /v2/undocumented", "POST /v2/things/{thing_id}"]


def test_declaring_a_route_after_the_document_was_built_is_refused() -> None:
    app = _app("versioning")
    app[API].document()

    async def late(request: web.Request) -> web.Response:
        """A route declared too late."""
        return web.Response()

    with pytest.raises(RuntimeError, match="already served"):
        app[API].get("/v5/late", late, ok=None)


def test_a_route_needs_a_summary() -> None:
    app = _app("versioning")

    async def nameless(request: web.Request) -> web.Response:
        return web.Response()

    with pytest.raises(ValueError, match="summary"):
        app[API].get("/v5/nameless", nameless, ok=None)


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_documents_are_valid_openapi_3_1_with_every_ref_resolving(name: str) -> None:
    document = openapi_document(name)
    assert document["openapi"] == "3.1.0"
    OPENAPI_31_VALIDATOR.validate(document)
    for ref in _refs(document):
        assert ref.startswith("#/"), ref
        _resolve(document, ref)


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_error_answer_has_the_api_error_body_and_headers(name: str) -> None:
    document = openapi_document(name)
    error_model = "HubError" if name == "catalog" else "DetailError"
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            assert "X-Request-Id" in response["headers"], (path, status)
            if int(status) < 400 or (path, status) == ("/readyz", "503"):
                continue
            assert response["content"]["application/json"]["schema"] == {
                "$ref": f"#/components/schemas/{error_model}"
            }, (path, method, status)
            assert {"X-Error-Code", "X-Request-Id"} <= set(response["headers"]), (path, status)


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_the_statuses_every_api_route_can_answer_are_documented(name: str) -> None:
    document = openapi_document(name)
    invalid = "400" if name == "catalog" else "422"
    for path, method, operation in _operations(document):
        statuses = set(operation["responses"])
        if path in OPS_PATHS:
            assert operation["security"] == []
            assert "401" not in statuses
            continue
        assert {"401", "503"} <= statuses, (path, method)
        if "requestBody" in operation:
            assert {invalid, "413"} <= statuses, (path, method)
        if "{" in path:
            assert "404" in statuses, (path, method)
        assert "Retry-After" in operation["responses"]["503"]["headers"]


def test_security_schemes_follow_how_each_api_takes_its_token() -> None:
    catalog, ingest, versioning = (openapi_document(name) for name in SERVICE_NAMES)
    bearer = {"type": "http", "scheme": "bearer"}
    assert catalog["components"]["securitySchemes"]["bearer"].items() >= bearer.items()
    assert ingest["components"]["securitySchemes"].keys() == {"bearer"}
    assert (
        versioning["components"]["securitySchemes"]["apiKey"].items() >= {"in": "header", "name": "X-API-KEY"}.items()
    )

    # The Hub reads repos anonymously; whoami and create need a token.
    assert catalog["paths"]["/api/{type}/{namespace}/{name}"]["get"]["security"] == [{}, {"bearer": []}]
    assert catalog["paths"]["/api/whoami-v2"]["get"]["security"] == [{"bearer": []}]
    assert catalog["paths"]["/api/repos/create"]["post"]["security"] == [{"bearer": []}]
    assert ingest["paths"]["/v2/huggingface-datasets"]["post"]["security"] == [{"bearer": []}]


def test_request_and_response_bodies_are_the_views_models() -> None:
    catalog, ingest = openapi_document("catalog"), openapi_document("ingest")
    create = catalog["paths"]["/api/repos/create"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateRepoBody"
    }
    info = catalog["components"]["schemas"]["RepoInfo"]
    assert "_id" in info["required"]  # the alias, as the Hub sends it
    index = ingest["paths"]["/v2/huggingface-datasets"]["post"]
    assert index["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Source"}
    assert ingest["components"]["schemas"]["IndexDatasetBody"]["properties"]["url"]["maxLength"] == 2048


def test_aiohttp_paths_become_openapi_paths_with_parameters() -> None:
    path, parameters = canonical_path(r"/api/{type:models|datasets}/{namespace}/{rev:[0-9a-f]{40}}")
    assert path == "/api/{type}/{namespace}/{rev}"
    assert [p["name"] for p in parameters] == ["type", "namespace", "rev"]
    assert parameters[0]["schema"] == {"type": "string", "enum": ["models", "datasets"]}
    assert parameters[1]["schema"] == {"type": "string", "minLength": 1}
    assert parameters[2]["schema"] == {"type": "string", "pattern": "^(?:[0-9a-f]{40})$"}
    assert all(p["in"] == "path" and p["required"] for p in parameters)


def test_query_models_become_query_parameters() -> None:
    class Page(BaseModel):
        page: int = 1
        size: int
        name: str | None = None

    app = _app("versioning")

    async def listing(request: web.Request) -> web.Response:
        """A page of things."""
        return web.Response()

    app[API].get("/v5/things", listing, query=Page, ok=list[str])
    operation = app[API].document()["paths"]["/v5/things"]["get"]
    assert [(p["name"], p["in"], p["required"]) for p in operation["parameters"]] == [
        ("page", "query", False),
        ("size", "query", True),
        ("name", "query", False),
    ]
    assert "422" in operation["responses"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "items": {"type": "string"},
        "type": "array",
    }
