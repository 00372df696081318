"""/healthz, /readyz and /metrics on every service, without a token."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from services.registry import definition
from services.runtime.db import DatabaseUnavailable
from services.runtime.service import build_app
from tests.conftest import free_port
from tests.e2e.conftest import Stack


@pytest.mark.parametrize("service", ["catalog", "ingest", "versioning"])
async def test_health_readiness_and_metrics(stack: Stack, service: str) -> None:
    status, _, body = await stack.call("GET", service, "/healthz")
    assert (status, body) == (200, {"status": "ok", "service": service})

    status, _, body = await stack.call("GET", service, "/readyz")
    assert status == 200, body
    assert body["checks"]["database"] == body["checks"]["kafka"] == body["checks"]["migrations"] == "ok"
    if service != "catalog":
        assert body["checks"][f"consumer:{service}-identity"] == "ok"

    async with stack.http.get(stack.url(service, "/metrics")) as response:
        assert response.status == 200
        text = await response.text()
    assert "hubstream_http_requests_total" in text
    assert f'hubstream_outbox_backlog{{service="{service}"}}' in text
    assert f'hubstream_outbox_oldest_pending_seconds{{service="{service}"}}' in text
    for table in ("outbox", "outbox_published", "inbox"):
        for name in ("hubstream_table_bytes", "hubstream_table_rows_estimated", "hubstream_retention_pruned_rows"):
            assert f'{name}{{service="{service}",table="{table}"}}' in text
    if service != "catalog":
        assert f'hubstream_consumer_events{{group="{service}-identity",outcome="handled"}}' in text


async def test_readiness_says_what_is_missing(make_config) -> None:  # type: ignore[no-untyped-def]
    config = make_config("catalog")
    dead_broker = f"127.0.0.1:{free_port()}"
    config = replace(config, infra=config.infra.model_copy(update={"kafka": dead_broker}))
    server = TestServer(build_app(definition("catalog"), config), host="127.0.0.1", port=config.http.port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{config.http.url}/readyz") as response:
                body = await response.json()
            async with http.get(f"{config.http.url}/healthz") as health:
                assert health.status == 200  # the process is fine; only readiness depends on the broker
        assert response.status == 503
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["kafka"].startswith(f"unavailable: Kafka at {dead_broker} is not reachable")
    finally:
        await server.close()


async def test_a_service_without_its_database_refuses_to_start_and_says_why(make_config) -> None:  # type: ignore[no-untyped-def]
    config = make_config("ingest")
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/hubstream"
    config = replace(config, infra=config.infra.model_copy(update={"database_url": nowhere}))
    server = TestServer(build_app(definition("ingest"), config), host="127.0.0.1", port=config.http.port)
    with pytest.raises(DatabaseUnavailable, match=r"PostgreSQL at .* is not reachable .* HUBSTREAM_DATABASE_URL"):
        await server.start_server()
    await server.close()
