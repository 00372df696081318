"""The unmodified `huggingface_hub` client managing collections: every `*_collection*` method, slugs, privacy,
items of each kind with notes and positions, and bad input that changes nothing."""

from __future__ import annotations

import asyncio
import re

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from services.catalog import store_papers
from tests.catalog.conftest import Catalog


def _status(exc: pytest.ExceptionInfo[HfHubHTTPError]) -> tuple[int, str | None]:
    response = exc.value.response
    return response.status_code, response.headers.get("X-Error-Code")


async def test_collections_with_the_hub_client(catalog: Catalog) -> None:
    alice = await catalog.user("alice", orgs={"acme": "admin"})
    bob = await catalog.user("bob", orgs={"acme": "read"})
    async with catalog.pool.acquire() as conn:
        await store_papers.upsert_paper(
            conn,
            paper_id="2307.09288",
            title="Llama 2",
            summary="Open foundation and fine-tuned chat models.",
            authors=["Hugo Touvron"],
            published_at=store_papers.parse_day("2023-07-18"),
            submitted_on_daily=None,
            submitted_by=None,
            project_page=None,
            github_repo=None,
        )
    api = HfApi(endpoint=catalog.url, token=alice)
    as_bob = HfApi(endpoint=catalog.url, token=bob)
    anonymous = HfApi(endpoint=catalog.url, token=False)

    def session() -> None:
        api.create_repo("alice/m")
        api.create_repo("alice/d", repo_type="dataset")
        api.create_repo("alice/s", repo_type="space", space_sdk="gradio")
        api.create_repo("alice/secret", private=True)

        # -- create: the Hub's slug, the 409 that names the existing one, exists_ok ---------------------------
        first = api.create_collection("My cool stuff!", description="Contains a lot of cool stuff")
        assert re.fullmatch(r"alice/my-cool-stuff-[0-9a-f]{24}", first.slug), first.slug
        assert (first.title, first.owner["name"], first.private, first.items, first.position) == (
            "My cool stuff!",
            "alice",
            False,
            [],
            0,
        )
        assert first.url == f"{catalog.url}/collections/{first.slug}"
        with pytest.raises(HfHubHTTPError) as exc:
            api.create_collection("My cool stuff!")
        assert _status(exc) == (409, "CollectionExists")
        assert api.create_collection("My cool stuff!", exists_ok=True).slug == first.slug
        other = api.create_collection("Nested", namespace="acme")
        assert other.slug.startswith("acme/nested-")
        assert other.owner["type"] == "org"
        with pytest.raises(HfHubHTTPError) as exc:  # a read member of acme cannot create there
            as_bob.create_collection("Mine", namespace="acme")
        assert _status(exc) == (403, "Forbidden")

        # -- items of each kind, with notes; appended in order ---------------------------------------------------
        slug = first.slug
        api.add_collection_item(slug, "alice/m", "model", note="This is my model")
        api.add_collection_item(slug, "alice/d", "dataset")
        api.add_collection_item(slug, "alice/s", "space")
        api.add_collection_item(slug, "2307.09288", "paper", note="The paper")
        added = api.add_collection_item(slug, other.slug, "collection")
        assert [(i.item_id, i.item_type, i.position, i.note) for i in added.items] == [
            ("alice/m", "model", 0, "This is my model"),
            ("alice/d", "dataset", 1, None),
            ("alice/s", "space", 2, None),
            ("2307.09288", "paper", 3, "The paper"),
            (other.slug, "collection", 4, None),
        ]
        # -- items that do not exist: a 404 in the Hub's shape, and the collection is as it was ----------------
        before = api.get_collection(slug)
        for item_id, item_type, code in (
            ("alice/nope", "model", "RepoNotFound"),
            ("alice/m", "dataset", "RepoNotFound"),  # exists, but as a model
            ("9999.99999", "paper", "PaperNotFound"),
            ("alice/gone-0123456789abcdef01234567", "collection", "CollectionNotFound"),
        ):
            with pytest.raises(HfHubHTTPError) as exc:
                api.add_collection_item(slug, item_id, item_type, note="never stored")  # type: ignore[arg-type]
            assert _status(exc) == (404, code), item_id
        with pytest.raises(HfHubHTTPError) as exc:  # another user's private repo is as good as missing
            as_bob.add_collection_item(other.slug, "alice/secret", "model")
        assert exc.value.response.status_code in (403, 404)
        after = api.get_collection(slug)
        assert [(i.item_object_id, i.note) for i in after.items] == [(i.item_object_id, i.note) for i in before.items]
        assert after.last_updated == before.last_updated
        # the same item twice: 409, unless exists_ok
        with pytest.raises(HfHubHTTPError) as exc:
            api.add_collection_item(slug, "alice/m", "model")
        assert _status(exc) == (409, "CollectionItemExists")
        assert len(api.add_collection_item(slug, "alice/m", "model", exists_ok=True).items) == 5

        # -- update and delete items ----------------------------------------------------------------------------
        model_item = after.items[0]
        api.update_collection_item(slug, model_item.item_object_id, note="Moved to the end", position=4)
        moved = api.get_collection(slug)
        assert [i.item_id for i in moved.items] == ["alice/d", "alice/s", "2307.09288", other.slug, "alice/m"]
        assert [i.position for i in moved.items] == [0, 1, 2, 3, 4]
        assert moved.items[-1].note == "Moved to the end"
        api.delete_collection_item(slug, moved.items[0].item_object_id)
        assert next(i.item_id for i in api.get_collection(slug).items) == "alice/s"
        api.delete_collection_item(slug, moved.items[0].item_object_id, missing_ok=True)
        with pytest.raises(HfHubHTTPError) as exc:
            api.delete_collection_item(slug, moved.items[0].item_object_id)
        assert _status(exc) == (404, "CollectionItemNotFound")
        with pytest.raises(HfHubHTTPError) as exc:  # bob sees the public collection but may not change it
            as_bob.update_collection_item(slug, moved.items[1].item_object_id, note="bob was here")
        assert _status(exc) == (403, "Forbidden")

        api.add_collection_item(slug, "alice/d", "dataset")  # back, at the end: five items again

        # -- metadata: a new title is a new slug, and the old one still works -----------------------------------
        renamed = api.update_collection_metadata(
            slug, title="Renamed", description="Now private", theme="pink", private=True, position=1
        )
        assert renamed.slug.startswith("alice/renamed-")
        assert renamed.slug.endswith(slug[-24:])
        assert (renamed.title, renamed.description, renamed.theme, renamed.private, renamed.position) == (
            "Renamed",
            "Now private",
            "pink",
            True,
            0,  # alice's only collection: a position past the end is the end
        )
        assert api.get_collection(slug).slug == renamed.slug
        with pytest.raises(HfHubHTTPError) as exc:
            api.update_collection_metadata(slug, theme="tartan")
        assert _status(exc) == (400, "InvalidParameter")

        # -- privacy: the private collection is seen by its owner only -----------------------------------------
        for who in (as_bob, anonymous):
            with pytest.raises(HfHubHTTPError) as exc:
                who.get_collection(renamed.slug)
            assert _status(exc) == (404, "CollectionNotFound")
        assert [c.slug for c in as_bob.list_collections(owner="alice")] == []
        assert [c.slug for c in api.list_collections(owner="alice")] == [renamed.slug]
        # a private repo in a public collection is hidden from those who may not read it
        api.add_collection_item(other.slug, "alice/secret", "model")
        assert [i.item_id for i in api.get_collection(other.slug).items] == ["alice/secret"]
        assert as_bob.get_collection(other.slug).items == []

        # -- listing: filters, sorts, the four-item preview, pages ---------------------------------------------
        listed = list(api.list_collections(owner=["alice", "acme"], sort="lastModified"))
        assert [c.slug for c in listed] == [other.slug, renamed.slug]  # the last changed first
        assert [c.position for c in listed] == [0, 1]  # the client's own numbering: the server sends none
        assert len(listed[1].items) == 4  # a preview; get_collection has them all
        assert [c.slug for c in api.list_collections(item="models/alice/secret")] == [other.slug]
        assert [c.slug for c in as_bob.list_collections(item="models/alice/secret")] == []
        assert [c.slug for c in api.list_collections(item="papers/2307.09288", sort="upvotes")] == [renamed.slug]
        assert len(list(api.list_collections(limit=1))) == 1
        assert {c.slug for c in api.list_collections(owner=["alice", "acme"], sort="trending")} == {
            other.slug,
            renamed.slug,
        }

        # -- delete ----------------------------------------------------------------------------------------------
        api.delete_collection(renamed.slug)
        with pytest.raises(HfHubHTTPError) as exc:
            api.get_collection(renamed.slug)
        assert _status(exc) == (404, "CollectionNotFound")
        api.delete_collection(renamed.slug, missing_ok=True)
        with pytest.raises(HfHubHTTPError) as exc:
            api.delete_collection(renamed.slug)
        assert exc.value.response.status_code == 404
        assert api.get_collection(other.slug).position == 0  # acme's collections renumbered from 0

    await asyncio.to_thread(session)


async def test_paging_collections_by_link(catalog: Catalog) -> None:
    alice = await catalog.user("alice")
    api = HfApi(endpoint=catalog.url, token=alice)
    for n in range(5):
        await asyncio.to_thread(api.create_collection, f"c{n}")
    status, headers, body = await catalog.call("GET", "/api/collections?owner=alice&limit=2", token=alice)
    assert status == 200
    assert len(body) == 2
    assert all("position" not in c for c in body)
    seen = [c["slug"] for c in body]
    while "Link" in headers:
        next_url = headers["Link"].removeprefix("<").split(">")[0]
        status, headers, body = await catalog.call("GET", next_url.removeprefix(catalog.url), token=alice)
        seen += [c["slug"] for c in body]
    assert len(seen) == 5 == len(set(seen))
    status, headers, body = await catalog.call("GET", "/api/collections?cursor=x", token=alice)
    assert (status, headers["X-Error-Code"]) == (400, "InvalidParameter")
    status, headers, body = await catalog.call("GET", "/api/collections?owner=", token=alice)
    assert (status, headers["X-Error-Code"]) == (400, "ValidationError")
