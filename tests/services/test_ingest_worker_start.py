"""The ingest worker's loops start at once; embedding alone waits for its model to load."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from services.ingest import worker
from services.ingest.embedder import EmbedExecutor, LoadThenEmbed
from services.registry import definition
from services.runtime.service import worker_deps
from services.runtime.settings import ServiceConfig


async def test_the_worker_reads_index_requests_without_waiting_for_the_model(
    make_config: Callable[[str], ServiceConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    loads = 0

    model = object()  # never asked to embed here

    def slow_load() -> object:
        # Stands for torch's imports and the model's load: seconds, in a thread.
        nonlocal loads
        loads += 1
        release.wait(30)
        return model

    monkeypatch.setattr(worker, "semantic_installed", lambda: True)
    monkeypatch.setattr(worker, "load_embedder", slow_load)
    service = definition("ingest")
    assert service.worker_consumers is not None
    try:
        async with (
            worker_deps(service, make_config("ingest")) as deps,
            asyncio.timeout(5),
            service.worker_consumers(deps) as loops,
        ):
            groups = {loop.group for loop in loops}
            assert {worker.WORKER_GROUP, "ingest-runs", EmbedExecutor.group} <= groups, groups
            [embedding] = [loop for loop in loops if isinstance(loop, LoadThenEmbed)]
            stopping = asyncio.Event()
            running = asyncio.create_task(embedding.run(stopping))
            await asyncio.sleep(0.2)
            assert not running.done()  # still loading, in its thread
            assert embedding.executor is None
            release.set()
            stopping.set()  # once loaded, the executor starts and sees the stop at once
            await running
            assert embedding.executor is not None
            assert embedding.executor.embedder is model
            await embedding.run(stopping)  # a restart keeps the model
            assert loads == 1
    finally:
        release.set()
