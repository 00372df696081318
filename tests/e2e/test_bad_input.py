"""Bad input gets each API's own error shape and the right status, never a 500."""

from __future__ import annotations

import pytest

from services.runtime.limits import DEFAULT_MAX_BODY
from tests.e2e.conftest import Stack


async def test_hub_errors_have_the_hub_shape(stack: Stack) -> None:
    token = stack.admin_token
    status, headers, body = await stack.call("POST", "catalog", "/api/repos/create", token=token, data=b"{nope")
    assert (status, headers["X-Error-Code"], list(body)) == (400, "InvalidJson", ["error"])
    assert headers["X-Request-Id"]

    status, headers, body = await stack.call("POST", "catalog", "/api/repos/create", token=token, json={"name": 5})
    assert (status, headers["X-Error-Code"]) == (400, "ValidationError")
    assert "name" in body["error"]

    status, headers, body = await stack.call("POST", "catalog", "/api/repos/create", json={"name": "x"})
    assert (status, headers["X-Error-Code"]) == (401, "Unauthorized")

    status, headers, body = await stack.call("GET", "catalog", "/api/whoami-v2", token="hf_wrong_token_1234567890")
    assert (status, body) == (401, {"error": "Invalid credentials in Authorization header"})
    assert headers["X-Error-Message"] == "Invalid credentials in Authorization header"

    status, headers, body = await stack.call("GET", "catalog", "/api/nothing/here")
    assert (status, headers["X-Error-Code"], list(body)) == (404, "NotFound", ["error"])

    status, headers, body = await stack.call("GET", "catalog", "/api/datasets/nobody/nothing")
    assert (status, headers["X-Error-Code"]) == (404, "RepoNotFound")  # the Hub client maps this code

    status, headers, body = await stack.call(
        "POST", "catalog", "/api/repos/create", token=token, json={"name": "bad name!", "type": "dataset"}
    )
    assert (status, headers["X-Error-Code"]) == (400, "InvalidName")

    status, headers, body = await stack.call("PUT", "catalog", "/healthz")
    assert (status, headers["X-Error-Code"]) == (405, "MethodNotAllowed")
    assert headers["Allow"] == "GET, HEAD"  # a 405 says what the resource has (RFC 9110)

    # A given organization must be valid: "" is not "none" (the repo would land in the caller's namespace).
    status, headers, body = await stack.call(
        "POST", "catalog", "/api/repos/create", token=token, json={"name": "x", "organization": ""}
    )
    assert (status, headers["X-Error-Code"]) == (400, "InvalidName")

    # Types are checked strictly, as the OpenAPI document states them: 1 is not a boolean.
    status, headers, body = await stack.call(
        "POST", "catalog", "/api/repos/create", token=token, json={"name": "x", "private": 1}
    )
    assert (status, headers["X-Error-Code"]) == (400, "ValidationError")


async def test_repo_create_conflict_returns_the_url_for_exist_ok(stack: Stack) -> None:
    body = {"name": "twice", "type": "dataset"}
    status, _, first = await stack.call("POST", "catalog", "/api/repos/create", token=stack.admin_token, json=body)
    assert status == 200
    status, headers, second = await stack.call(
        "POST", "catalog", "/api/repos/create", token=stack.admin_token, json=body
    )
    assert (status, headers["X-Error-Code"]) == (409, "RepoExists")
    assert second["url"] == first["url"] == stack.url("catalog", "/datasets/admin/twice")


@pytest.mark.parametrize("service", ["ingest", "versioning"])
async def test_fastapi_style_errors_have_a_detail(stack: Stack, service: str) -> None:
    header = "X-API-KEY" if service == "versioning" else "Authorization"
    status, headers, body = await stack.call("GET", service, "/v2/data-sources/x")
    assert (status, headers["X-Error-Code"], list(body)) == (401, "Unauthorized", ["detail"])

    status, _, body = await stack.call("GET", service, "/anything", token="hf_wrong_token_1234567890", header=header)
    assert (status, body) == (401, {"detail": "Invalid credentials in Authorization header"})

    status, headers, body = await stack.call("GET", service, "/no/such/route", token=stack.admin_token, header=header)
    assert (status, headers["X-Error-Code"], list(body)) == (404, "NotFound", ["detail"])


async def test_nia_validation_errors_list_what_is_wrong(stack: Stack) -> None:
    path, token = "/v2/huggingface-datasets", stack.admin_token
    status, _, body = await stack.call("POST", "ingest", path, token=token, data=b'{"url": ')
    assert status == 422
    assert body["detail"][0]["type"] == "json_invalid"

    status, _, body = await stack.call("POST", "ingest", path, token=token, json={"url": 5})
    assert status == 422
    assert body["detail"][0]["loc"] == ["body", "url"]

    status, _, body = await stack.call("POST", "ingest", path, token=token, json={})
    assert (status, body["detail"][0]["loc"], body["detail"][0]["type"]) == (422, ["body", "url"], "missing")

    status, _, body = await stack.call("POST", "ingest", path, token=token, json=["owner/name"])
    assert (status, body["detail"][0]["type"]) == (422, "dict_type")

    body_with_int = {"url": "owner/name", "add_as_global_source": 0}  # lax validation would read false
    status, _, body = await stack.call("POST", "ingest", path, token=token, json=body_with_int)
    assert (status, body["detail"][0]["loc"], body["detail"][0]["type"]) == (
        422,
        ["body", "add_as_global_source"],
        "bool_type",
    )

    status, headers, body = await stack.call("POST", "ingest", path, token=token, json={"url": "not a dataset!"})
    assert (status, headers["X-Error-Code"]) == (422, "InvalidDatasetUrl")

    status, headers, body = await stack.call("GET", "ingest", "/v2/data-sources/not-a-uuid", token=token)
    assert (status, headers["X-Error-Code"]) == (404, "SourceNotFound")


async def test_request_ids_are_echoed(stack: Stack) -> None:
    _, headers, _ = await stack.call("GET", "catalog", "/healthz", headers={"X-Request-Id": "trace-12345678"})
    assert headers["X-Request-Id"] == "trace-12345678"
    _, headers, _ = await stack.call("GET", "catalog", "/healthz", headers={"X-Request-Id": "bad id\twith tab"})
    assert headers["X-Request-Id"] != "bad id\twith tab"


async def test_values_the_database_cannot_store_are_refused_not_a_500(stack: Stack) -> None:
    token = stack.admin_token
    path = "/v2/huggingface-datasets"
    for config in ("x\u0000y", "c" * 16_000):
        status, _, body = await stack.call("POST", "ingest", path, token=token, json={"url": "a/b", "config": config})
        assert status == 422, body
        assert body["detail"][0]["loc"] == ["body", "config"]

    status, headers, _ = await stack.call(
        "POST", "catalog", "/api/repos/create", token=token, json={"name": "r", "organization": "a\u0000b"}
    )
    assert (status, headers["X-Error-Code"]) == (400, "InvalidName")

    status, headers, _ = await stack.call("GET", "catalog", "/api/datasets/a%00b/c")
    assert (status, headers["X-Error-Code"]) == (404, "RepoNotFound")


@pytest.mark.parametrize(
    ("service", "path", "key"),
    [("catalog", "/api/repos/create", "error"), ("ingest", "/v2/huggingface-datasets", "detail")],
)
async def test_a_body_over_the_route_limit_is_413_in_the_api_shape(
    stack: Stack, service: str, path: str, key: str
) -> None:
    # Versioning takes no request bodies yet; its routes get the same runtime limit when they land.
    oversized = {"name": "r", "url": "a/b", "padding": "x" * DEFAULT_MAX_BODY}
    status, headers, body = await stack.call("POST", service, path, token=stack.admin_token, json=oversized)
    assert (status, headers["X-Error-Code"], list(body)) == (413, "PayloadTooLarge", [key])
    assert "at most 1 MiB" in body[key]
    assert "at most 1 MiB" in headers["X-Error-Message"]


async def test_an_error_quoting_control_characters_is_still_sent(stack: Stack) -> None:
    # The message quotes the repo id, \x1f included; a header may not carry it (aiohttp would drop the connection).
    status, headers, body = await stack.call(
        "PUT", "catalog", "/api/models/%1F/x/settings", token=stack.admin_token, json={}
    )
    assert (status, headers["X-Error-Code"]) == (404, "RepoNotFound")
    assert "\x1f" in body["error"]
    assert headers["X-Error-Message"] == "Repository Not Found: model  /x."
