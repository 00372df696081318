"""A log record is one line, whatever a client put in what it quotes: nobody can forge a line of the log."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from services.runtime.auth import bearer_token
from services.runtime.errors import detail_shape
from services.runtime.http import AccessLogger, create_base_app
from services.runtime.settings import HttpSettings, InfraSettings, ServiceConfig
from tests.conftest import logs_as_the_services_write_them

FORGED = "2026-12-02 00:00:00,000 ERROR   versioning-api forged: the database is gone"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    with logs_as_the_services_write_them(logging.INFO) as buffer:
        yield buffer


def test_control_characters_in_a_message_are_escaped_and_a_traceback_keeps_its_lines(captured: io.StringIO) -> None:
    log = logging.getLogger("tests.logging")
    log.warning("delta %s rejected", f"r1\n{FORGED}\r\x00\x1b[31m\u2028end")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("handler failed")

    lines = captured.getvalue().splitlines()
    assert not [line for line in lines if line.startswith(FORGED)], lines
    assert "\x00" not in captured.getvalue()
    assert "\x1b" not in captured.getvalue()
    assert lines[0].endswith(f"delta r1\\n{FORGED}\\r\\x00\\x1b[31m\\u2028end rejected"), lines[0]
    assert lines[1].endswith("handler failed")
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: boom"


async def test_a_request_path_cannot_write_a_line_of_its_own_into_the_access_log(captured: io.StringIO) -> None:
    config = ServiceConfig("test", InfraSettings(), HttpSettings())
    app = create_base_app(config, error_shape=detail_shape, token_extractor=bearer_token, auth_required=False)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(access_log_class=AccessLogger)  # as `serve` runs the app
    try:
        async with aiohttp.ClientSession() as http:
            # The path as a client sends it, percent-encoded; aiohttp decodes it before it is logged.
            url = server.make_url("/v5/datasets/x%0A" + FORGED.replace(" ", "%20") + "%00")
            async with http.get(url.with_path(url.raw_path, encoded=True)) as response:
                assert response.status == 404
    finally:
        await server.close()

    access = [line for line in captured.getvalue().splitlines() if "-> 404" in line]
    assert len(access) == 1, captured.getvalue()
    assert f"/v5/datasets/x\\n{FORGED}\\x00 -> 404" in access[0]
    assert not [line for line in captured.getvalue().splitlines() if line.startswith(FORGED)]
