"""The unmodified `huggingface_hub` client listing models, datasets and spaces: filters, sorts, pages, privacy."""

from __future__ import annotations

import asyncio

from huggingface_hub import HfApi

from tests.catalog.conftest import Catalog, load_repos

TOPICS = ["vision", "audio", "text"]


async def test_list_models_filters_sorts_and_limits(catalog: Catalog) -> None:
    alice = await catalog.user("alice")
    names = [f"{owner}/{TOPICS[i % 3]}-model-{i:02d}" for i, owner in enumerate(["alice", "bob", "carol"] * 10)]
    await load_repos(
        catalog.pool,
        "model",
        names,
        tags=lambda i: [TOPICS[i % 3], "license:mit" if i % 2 else "license:apache-2.0"],
        likes=lambda i: (i * 7) % 30,
        private=lambda i: i in (0, 1),  # alice/vision-model-00 (hers) and bob/audio-model-01 (not hers)
    )
    api = HfApi(endpoint=catalog.url, token=alice)
    anonymous = HfApi(endpoint=catalog.url, token=False)

    def session() -> None:
        everything = [m.id for m in api.list_models()]
        assert len(everything) == 29  # bob's private repo is not alice's to see
        assert everything == sorted(everything)  # the default order: by id
        assert "bob/audio-model-01" not in everything
        assert len(list(anonymous.list_models())) == 28

        assert [m.id for m in api.list_models(author="carol", search="text")] == [
            f"carol/text-model-{i:02d}" for i in range(2, 30, 3)
        ]
        vision_mit = [m.id for m in api.list_models(filter=["vision", "license:mit"])]
        assert vision_mit == sorted(n for i, n in enumerate(names) if i % 3 == 0 and i % 2)
        # search is a case-insensitive substring of the id; filter values are tags
        assert [m.id for m in api.list_models(search="MODEL-1", filter="audio")] == [
            "bob/audio-model-10",
            "bob/audio-model-13",
            "bob/audio-model-16",
            "bob/audio-model-19",
        ]
        by_likes = list(api.list_models(sort="likes", limit=5))
        assert [m.likes for m in by_likes] == sorted((m.likes for m in by_likes), reverse=True)
        assert by_likes[0].likes == 29
        newest = list(api.list_models(sort="created_at", limit=3))
        assert [m.id for m in newest] == names[29:26:-1]
        recent = list(api.list_models(sort="last_modified", limit=30))
        assert recent[0].id == names[29]
        assert recent[0].last_modified is not None

        card = next(iter(api.list_models(search="carol/text-model-02", full=True)))
        assert (card.id, card.author, card.private, card.tags) == (
            "carol/text-model-02",
            "carol",
            False,
            ["text", "license:apache-2.0"],
        )
        only = next(iter(api.list_models(search="carol/text-model-02", expand=["likes", "tags"])))
        assert (only.likes, only.tags, only.author, only.private) == (14, ["text", "license:apache-2.0"], None, None)

    await asyncio.to_thread(session)


async def test_the_client_pages_through_thousands_of_datasets(catalog: Catalog) -> None:
    # More than two pages of the default page size (1000): the client follows `Link` from page to page.
    names = [f"user{i % 37}/ds-{i:05d}" for i in range(2345)]
    await load_repos(catalog.pool, "dataset", names, tags=lambda i: ["even"] if i % 2 == 0 else [])
    api = HfApi(endpoint=catalog.url, token=False)

    def session() -> None:
        listed = [d.id for d in api.list_datasets()]
        assert listed == sorted(names)
        evens = [d.id for d in api.list_datasets(filter="even", sort="createdAt")]
        assert evens == [n for i, n in enumerate(names) if i % 2 == 0][::-1]
        assert [d.id for d in api.list_datasets(limit=1500)] == sorted(names)[:1500]
        assert list(api.list_spaces()) == []

    await asyncio.to_thread(session)
