"""The ingest worker starts without its embedding model: that loads when the first index is to be embedded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from services.ingest import semantic, worker
from services.ingest.embedder import EmbedExecutor
from services.registry import definition
from services.runtime.service import worker_deps
from services.runtime.settings import ServiceConfig


class Model:
    def embed(self, texts: list[str]) -> list[str]:
        return texts


async def test_the_worker_starts_without_loading_the_model_and_loads_it_once_for_the_first_embedding(
    make_config: Callable[[str], ServiceConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loading the real model holds the GIL for seconds (torch's imports): loaded at start, it kept the worker's
    # consumers from reading for that long after every restart.
    loads: list[int | None] = []

    def load(threads: int | None = None) -> Model:
        loads.append(threads)
        return Model()

    monkeypatch.setattr(worker, "semantic_installed", lambda: True)
    monkeypatch.setattr(semantic, "semantic_installed", lambda: True)
    monkeypatch.setattr(semantic, "load_embedder", load)
    service = definition("ingest")
    assert service.worker_consumers is not None
    async with (
        worker_deps(service, make_config("ingest")) as deps,
        asyncio.timeout(10),
        service.worker_consumers(deps) as loops,
    ):
        assert {worker.WORKER_GROUP, "ingest-runs", EmbedExecutor.group} <= {loop.group for loop in loops}
        assert loads == []  # nothing to embed yet
        [executor] = [loop for loop in loops if isinstance(loop, EmbedExecutor)]
        embedder = executor.embedder
        assert isinstance(embedder, semantic.LazyEmbedder)
        assert await asyncio.to_thread(embedder.embed, ["a"]) == ["a"]
        assert await asyncio.to_thread(embedder.embed, ["b"]) == ["b"]
    assert loads == [None]  # once, on every core
