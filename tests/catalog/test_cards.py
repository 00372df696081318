"""README front matter -> cardData and tags: the parser alone, then stored on a repo and served by repo_info."""

from __future__ import annotations

from services.catalog.cards import MAX_NODES, card_data, refresh_card
from services.catalog.repos import RepoRef, create_repo
from services.runtime.auth import Principal
from tests.catalog.conftest import Catalog

MODEL_README = """---
license: mit
language:
- en
- fr
library_name: transformers
pipeline_tag: text-classification
tags:
- sentiment
- pytorch
datasets:
- alice/reviews
released: 2024-05-01
---
# A model

Some text with --- dashes.
"""


def test_model_card_gives_its_metadata_and_the_hubs_tags() -> None:
    data, tags = card_data(MODEL_README, "model")
    assert data is not None
    assert data["license"] == "mit"
    assert data["released"] == "2024-05-01"  # YAML dates become strings: cardData is JSON
    assert tags == [
        "sentiment",
        "pytorch",
        "transformers",
        "text-classification",
        "license:mit",
        "dataset:alice/reviews",
        "en",
        "fr",
    ]


def test_dataset_card_prefixes_its_categories() -> None:
    readme = "---\nlicense: cc-by-4.0\nlanguage: en\ntask_categories: [text-classification]\n"
    readme += "size_categories:\n- 1K<n<10K\ntags: [reviews, reviews]\n---\nbody\n"
    data, tags = card_data(readme, "dataset")
    assert data == {
        "license": "cc-by-4.0",
        "language": "en",
        "task_categories": ["text-classification"],
        "size_categories": ["1K<n<10K"],
        "tags": ["reviews", "reviews"],
    }
    assert tags == [
        "reviews",
        "license:cc-by-4.0",
        "language:en",
        "task_categories:text-classification",
        "size_categories:1K<n<10K",
    ]


def test_readmes_without_usable_metadata_have_none() -> None:
    assert card_data(None) == (None, [])
    assert card_data("# just a title\n") == (None, [])
    assert card_data("---\nlicense: [unclosed\n---\n") == (None, [])  # YAML that does not parse
    assert card_data("---\n- a\n- b\n---\n") == (None, [])  # YAML that is not a mapping
    assert card_data("---\nlicense: mit\n") == (None, [])  # never closed
    assert card_data("---\n---\ntext") == ({}, [])  # empty metadata is metadata
    assert card_data("text\n---\nlicense: mit\n---\n") == (None, [])  # front matter only at the top


def test_alias_bombs_are_refused_not_expanded() -> None:
    # Nine levels of nine aliases: a few hundred bytes of YAML, 387 million values once expanded.
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    data, tags = card_data("---\n" + "\n".join(lines) + "\n---\n")
    assert (data, tags) == (None, [])
    # The bound is on values, not on aliases: a large honest card still passes.
    honest = "---\ntags:\n" + "".join(f"- t{i}\n" for i in range(MAX_NODES // 2)) + "---\n"
    assert card_data(honest)[0] is not None


async def test_refresh_card_stores_metadata_that_repo_info_serves(catalog: Catalog) -> None:
    token = await catalog.user("alice")
    async with catalog.pool.acquire() as conn, conn.transaction():
        row = await create_repo(
            conn,
            catalog.outbox(),
            Principal("alice", "t", "write"),
            RepoRef("model", "alice", "m1"),
            private=False,
            base_url=catalog.url,
        )
        tags = await refresh_card(conn, row["id"], MODEL_README)
    assert "license:mit" in tags
    status, _, info = await catalog.call("GET", "/api/models/alice/m1", token=token)
    assert status == 200, info
    assert info["cardData"]["pipeline_tag"] == "text-classification"
    assert info["tags"] == tags
    assert (info["pipeline_tag"], info["library_name"]) == ("text-classification", "transformers")

    async with catalog.pool.acquire() as conn, conn.transaction():
        assert await refresh_card(conn, row["id"], None) == []  # README deleted: no metadata
    _, _, info = await catalog.call("GET", "/api/models/alice/m1")
    assert "cardData" not in info
    assert info["tags"] == []
