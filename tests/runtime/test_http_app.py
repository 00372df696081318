"""The runtime's HTTP app answers every failure as JSON in the API's shape, with a request id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler

from services.runtime.auth import bearer_token
from services.runtime.errors import ErrorShape, detail_shape, hub_shape
from services.runtime.http import create_base_app, read_json
from services.runtime.kafka import producer_context
from services.runtime.limits import DEFAULT_MAX_BODY, KiB, MiB, body_chunks, max_body
from services.runtime.settings import HttpSettings, InfraSettings, ServiceConfig
from tests.conftest import free_port


@asynccontextmanager
async def serving(
    shape: ErrorShape, routes: dict[str, Handler], values: dict[web.AppKey[Any], Any] | None = None
) -> AsyncIterator[tuple[TestServer, aiohttp.ClientSession]]:
    """The runtime's base app with `routes` ({"GET /path": view}) on a real port, and a client."""
    config = ServiceConfig("test", InfraSettings(), HttpSettings())
    app = create_base_app(config, error_shape=shape, token_extractor=bearer_token, auth_required=False)
    for key, value in (values or {}).items():
        app[key] = value
    for route, view in routes.items():
        method, path = route.split(" ")
        app.router.add_route(method, path, view)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield server, http
    finally:
        await server.close()


async def unstorable(request: web.Request) -> web.Response:
    raise asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00")


async def bug(request: web.Request) -> web.Response:
    raise KeyError("oops")


@pytest.mark.parametrize(("shape", "key", "invalid"), [(hub_shape, "error", 400), (detail_shape, "detail", 422)])
async def test_database_refusals_are_the_apis_invalid_input_and_bugs_are_a_json_500(
    shape, key: str, invalid: int
) -> None:  # type: ignore[no-untyped-def]
    # The status each API gives invalid input, which every route that takes input documents: a NUL byte in a
    # query of versioning's (found by the fuzzing) was a 400 there, where invalid input is a 422.
    async with serving(shape, {"GET /unstorable": unstorable, "GET /bug": bug}) as (server, http):
        async with http.get(server.make_url("/unstorable")) as response:
            body = await response.json()
            assert (response.status, response.headers["X-Error-Code"]) == (invalid, "InvalidInput")
            if invalid == 422:  # FastAPI's 422 is always a list of items: the Humanloop SDK parses it as one
                [item] = body[key]
                assert (item["loc"], item["type"]) == ([], "InvalidInput")
                assert "cannot be stored" in item["msg"]
            else:
                assert "cannot be stored" in body[key]
        async with http.get(server.make_url("/bug")) as response:
            body = await response.json()
            request_id = response.headers["X-Request-Id"]
            assert (response.status, response.headers["X-Error-Code"]) == (500, "InternalError")
            assert request_id in body[key]  # the operator finds the traceback by this id
            assert "oops" not in str(body)  # no internals leak to the client


DEAD_BROKER = web.AppKey("dead_broker", str)


async def talks_to_a_dead_broker(request: web.Request) -> web.Response:
    async with producer_context(request.app[DEAD_BROKER]) as producer:
        await producer.send_and_wait("t", b"x")
    return web.Response(text="sent")


async def test_a_broker_that_cannot_be_reached_is_a_503_with_retry_after_and_counted() -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens: connection refused
    async with serving(detail_shape, {"POST /send": talks_to_a_dead_broker}, {DEAD_BROKER: dead}) as (server, http):
        async with http.post(server.make_url("/send")) as response:
            body = await response.json()
            assert response.status == 503
            assert response.headers["X-Error-Code"] == "BrokerUnavailable"
            assert int(response.headers["Retry-After"]) > 0
            assert list(body) == ["detail"]
            assert "message broker (Kafka)" in body["detail"]
        async with http.get(server.make_url("/metrics")) as response:
            assert 'hubstream_dependency_errors_total{dependency="broker",service="test"} 1.0' in (
                await response.text()
            )


@max_body(2 * MiB)
async def echo_size(request: web.Request) -> web.Response:
    return web.Response(text=str(len(await request.read())))


@max_body(2 * MiB, streamed=True)
async def stream_size(request: web.Request) -> web.Response:
    return web.Response(text=str(sum([len(chunk) async for chunk in body_chunks(request)])))


async def default_limit(request: web.Request) -> web.Response:
    return web.Response(text=str(len(await read_json(request))))


async def chunked(size: int) -> AsyncIterator[bytes]:
    """A body sent without Content-Length, so only reading it can find its size."""
    for _ in range(size // (256 * KiB)):
        yield b" " * (256 * KiB)
    yield b"[]"


@pytest.mark.parametrize(("shape", "key"), [(hub_shape, "error"), (detail_shape, "detail")])
async def test_bodies_over_the_route_limit_are_413_naming_the_limit(shape, key: str) -> None:  # type: ignore[no-untyped-def]
    routes = {"POST /default": default_limit, "POST /bigger": echo_size, "POST /streamed": stream_size}

    async def post(path: str, data: Any) -> tuple[int, str, Any]:
        async with http.post(server.make_url(path), data=data) as response:
            body = await response.json() if response.status >= 400 else await response.text()
            return response.status, response.headers.get("X-Error-Code", ""), body

    async with serving(shape, routes) as (server, http):
        for path, limit, words in (("/default", DEFAULT_MAX_BODY, "1 MiB"), ("/bigger", 2 * MiB, "2 MiB")):
            status, code, body = await post(path, b" " * (limit + 1))  # with Content-Length
            assert (status, code) == (413, "PayloadTooLarge"), body
            assert list(body) == [key]
            assert f"at most {words}" in body[key]
            status, code, body = await post(path, chunked(limit + 256 * KiB))  # chunked: found while reading
            assert (status, code) == (413, "PayloadTooLarge"), body
            assert f"at most {words}" in body[key]
        assert await post("/default", b"[" + b" " * (DEFAULT_MAX_BODY - 2) + b"]") == (200, "", "0")
        assert await post("/bigger", b" " * (2 * MiB)) == (200, "", str(2 * MiB))
        assert await post("/streamed", chunked(MiB)) == (200, "", str(MiB + 2))
        status, code, body = await post("/streamed", chunked(3 * MiB))
        assert (status, code) == (413, "PayloadTooLarge")
        assert "at most 2 MiB" in body[key]


async def echo_query(request: web.Request) -> web.Response:
    return web.json_response({"q": len(request.query.get("q", "")), "token": len(request.headers.get("X-Long", ""))})


async def test_long_request_lines_and_headers_reach_the_route_and_get_its_json_answer() -> None:
    # aiohttp's parser refuses lines over 8190 bytes itself, with a plain-text 400 that has none of the API's
    # shape: a 60 KB query and a 20 KB header reach the route instead (schemathesis sent a 12 KB query string).
    async with serving(hub_shape, {"GET /echo": echo_query}) as (server, http):
        long = "é" * 10_000  # 60 KB percent-encoded in the URL
        async with http.get(server.make_url("/echo"), params={"q": long}, headers={"X-Long": "x" * 20_000}) as answer:
            assert (answer.status, await answer.json()) == (200, {"q": 10_000, "token": 20_000})
        # Past the limit the parser still refuses, as a client error.
        async with http.get(server.make_url("/echo"), params={"q": "x" * 70_000}) as answer:
            assert answer.status == 400
