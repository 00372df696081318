"""The runtime's HTTP app answers every failure as JSON in the API's shape, with a request id."""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.runtime.auth import bearer_token
from services.runtime.errors import detail_shape, hub_shape
from services.runtime.http import create_base_app
from services.runtime.settings import HttpSettings, InfraSettings, ServiceConfig


async def unstorable(request: web.Request) -> web.Response:
    raise asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00")


async def bug(request: web.Request) -> web.Response:
    raise KeyError("oops")


@pytest.mark.parametrize(("shape", "key"), [(hub_shape, "error"), (detail_shape, "detail")])
async def test_database_refusals_are_400_and_bugs_are_a_json_500(shape, key: str) -> None:  # type: ignore[no-untyped-def]
    config = ServiceConfig("test", InfraSettings(), HttpSettings())
    app = create_base_app(config, error_shape=shape, token_extractor=bearer_token, auth_required=False)
    app.router.add_get("/unstorable", unstorable)
    app.router.add_get("/bug", bug)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.make_url("/unstorable")) as response:
                body = await response.json()
                assert (response.status, response.headers["X-Error-Code"]) == (400, "InvalidInput")
                assert "cannot be stored" in body[key]
            async with http.get(server.make_url("/bug")) as response:
                body = await response.json()
                request_id = response.headers["X-Request-Id"]
                assert (response.status, response.headers["X-Error-Code"]) == (500, "InternalError")
                assert request_id in body[key]  # the operator finds the traceback by this id
                assert "oops" not in str(body)  # no internals leak to the client
    finally:
        await server.close()
