"""Collections: slugs, who may see and change them, what their items name, and their JSON as the Hub shapes it.

A collection belongs to a user or an organization. A private one is seen only by its owner (or the owning
organization's members); changing one takes write access to its owner's namespace, as creating a repo there
does. Its slug is `owner/slugified-title-ID`: a rename changes the slug, and every slug that ends in the same id
keeps finding it (the Hub's behaviour, which scripts that stored an old slug rely on).
"""

from __future__ import annotations

import html
import re
import secrets
from typing import Any, Literal

import asyncpg

from services.catalog import store, store_collections, store_listing
from services.catalog.errors import catalog_error
from services.catalog.names import name_problem
from services.catalog.repos import can_read, can_write_namespace
from services.runtime.auth import Principal
from services.runtime.http import iso_utc

ItemType = Literal["model", "dataset", "space", "paper", "collection"]
REPO_ITEM_TYPES = ("model", "dataset", "space")
THEMES = ("orange", "blue", "green", "purple", "pink", "indigo")  # the Hub's collection themes
MAX_TITLE = 100
MAX_DESCRIPTION = 150  # the client documents these two limits
MAX_NOTE = 500
PREVIEW_ITEMS = 4  # a listing shows each collection's first four items, as the Hub's does
_ID_TAIL = re.compile(r"-([0-9a-f]{24})$")


def new_object_id() -> str:
    return secrets.token_hex(12)


def slugify(title: str) -> str:
    """The title part of a slug: lowercase words joined by dashes (the Hub's form)."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "collection"


def slug_of(row: asyncpg.Record) -> str:
    """A mirrored collection keeps the upstream's slug (formed by the upstream's slugify, which may differ)."""
    return row.get("upstream_slug") or f"{row['owner']}/{slugify(row['title'])}-{row['id']}"


def collection_id_of(namespace: str, slug: str) -> str | None:
    """The id at the end of a slug's second part, or None if it has none."""
    match = _ID_TAIL.search(slug)
    return match.group(1) if match and name_problem(namespace, "namespace") is None else None


def not_found(slug: str) -> Exception:
    return catalog_error(404, "CollectionNotFound", f"Collection not found: {slug}.")


async def may_see(conn: store_listing.Conn, principal: Principal | None, row: asyncpg.Record) -> bool:
    if not row["private"]:
        return True
    if principal is None:
        return False
    return row["owner"] == principal.user or await store.member_role(conn, row["owner"], principal.user) is not None


async def visible(conn: store_listing.Conn, principal: Principal | None, namespace: str, slug: str) -> asyncpg.Record:
    """The collection this slug names if the caller may see it; else 404 CollectionNotFound (missing or private)."""
    collection_id = collection_id_of(namespace, slug)
    row = await store_collections.collection(conn, collection_id) if collection_id else None
    if row is None or row["owner"] != namespace or not await may_see(conn, principal, row):
        raise not_found(f"{namespace}/{slug}")
    return row


async def writable(conn: asyncpg.Connection, principal: Principal, namespace: str, slug: str) -> asyncpg.Record:
    """The collection, locked for this transaction, if the caller may change it (404 if unseen, 403 if read-only)."""
    row = await visible(conn, principal, namespace, slug)
    if row["mirror"] is not None:
        raise catalog_error(
            403,
            "MirrorReadOnly",
            f"{slug_of(row)} is a read-only copy from the mirror {row['mirror']!r}: "
            "change it upstream, the next sync brings the change here",
        )
    if not await can_write_namespace(conn, principal, row["owner"]):
        raise catalog_error(
            403, "Forbidden", f"you ({principal.user}) may not change the collections of {row['owner']!r}"
        )
    await store_collections.lock_owner(conn, row["owner"])  # before the row: see lock_owner
    locked = await store_collections.collection_for_update(conn, row["id"])
    if locked is None:  # deleted meanwhile
        raise not_found(f"{namespace}/{slug}")
    return locked


def check_text(value: str | None, what: str, longest: int, *, required: bool = False) -> None:
    if value is None:
        return
    if required and not value.strip():
        raise catalog_error(400, "InvalidParameter", f"the {what} may not be empty")
    if len(value) > longest:
        raise catalog_error(400, "InvalidParameter", f"the {what} is longer than {longest} characters")


def check_theme(theme: str | None) -> None:
    if theme is not None and theme not in THEMES:
        raise catalog_error(400, "InvalidParameter", f"unknown theme {theme!r}: one of {', '.join(THEMES)}")


def moved(ids: list[str], which: str, position: int) -> list[str]:
    """`ids` with `which` moved to `position` (clamped to the list)."""
    rest = [i for i in ids if i != which]
    at = max(0, min(position, len(rest)))
    return [*rest[:at], which, *rest[at:]]


# -- items -----------------------------------------------------------------------------------------------------


async def item_key(
    conn: asyncpg.Connection, principal: Principal, collection: asyncpg.Record, item_type: str, item_id: str
) -> str:
    """The stored key of what an item names; 404 in the Hub's shape if it does not exist or is not visible."""
    if item_type in REPO_ITEM_TYPES:
        namespace, slash, name = item_id.removeprefix(f"{item_type}s/").partition("/")
        valid = slash and name_problem(namespace, "namespace") is None and name_problem(name, "repo") is None
        repo = await store.repo(conn, item_type, namespace, name) if valid else None
        if repo is None or not await can_read(conn, principal, repo):
            raise catalog_error(404, "RepoNotFound", f"Repository Not Found: {item_type} {item_id}.")
        return repo["id"]
    if item_type == "paper":
        if not await store_collections.paper_exists(conn, item_id):
            raise catalog_error(404, "PaperNotFound", f"Paper not found: {item_id}.")
        return item_id
    namespace, _, slug = item_id.partition("/")
    nested = await visible(conn, principal, namespace, slug)
    if nested["id"] == collection["id"]:
        raise catalog_error(400, "InvalidParameter", "a collection cannot hold itself")
    return nested["id"]


def _note(text: str | None) -> dict[str, str] | None:
    if text is None:
        return None
    return {"text": text, "html": "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() or [""])}


class ItemResolver:
    """What a page of items names, read in one query per kind, and shown only to those who may see it."""

    def __init__(self, principal: Principal | None, readable: tuple[str, ...]) -> None:
        self.principal = principal
        self.readable = readable
        self.repos: dict[str, asyncpg.Record] = {}
        self.papers: dict[str, asyncpg.Record] = {}
        self.collections: dict[str, asyncpg.Record] = {}

    async def load(self, conn: store_listing.Conn, items: list[asyncpg.Record]) -> None:
        keys: dict[str, list[str]] = {"repo": [], "paper": [], "collection": []}
        for row in items:
            kind = "repo" if row["item_type"] in REPO_ITEM_TYPES else row["item_type"]
            keys.setdefault(kind, []).append(row["item_key"])
        self.repos = {r["id"]: r for r in await store_collections.repos_by_id(conn, keys["repo"])}
        self.papers = {r["id"]: r for r in await store_collections.papers_by_id(conn, keys["paper"])}
        self.collections = {r["id"]: r for r in await store_collections.collections_by_id(conn, keys["collection"])}

    def _sees(self, private: bool, owner: str) -> bool:
        return not private or owner in self.readable

    def _as_listed(self, row: asyncpg.Record, base: dict[str, Any]) -> dict[str, Any] | None:
        """An item of a mirrored collection naming what is not here: as the upstream listed it (a private one only
        to those who may see its owner's private things). A local item whose target is gone is not shown."""
        listed = row["upstream"]
        if not isinstance(listed, dict):
            return None
        owner = listed.get("author")
        if owner is None and isinstance(listed.get("owner"), dict):  # a collection's owner
            owner = listed["owner"].get("name")
        if listed.get("private") and not self._sees(True, str(owner)):
            return None
        return {**listed, **base}

    def item_json(self, row: asyncpg.Record) -> dict[str, Any] | None:
        """The item as the Hub lists it, or None when what it names is gone or hidden from the caller."""
        base: dict[str, Any] = {"_id": row["id"], "position": row["position"], "type": row["item_type"]}
        if (note := _note(row["note"])) is not None:
            base["note"] = note
        key = row["item_key"]
        if row["item_type"] in REPO_ITEM_TYPES:
            repo = self.repos.get(key)
            if repo is None:
                return self._as_listed(row, base)
            if not self._sees(repo["private"], repo["namespace"]):
                return None
            return {
                **base,
                "id": f"{repo['namespace']}/{repo['name']}",
                "author": repo["namespace"],
                "repoType": repo["repo_type"],
                "private": repo["private"],
                "likes": repo["likes"],
                "downloads": repo["downloads"],
                "lastModified": iso_utc(repo["updated_at"]),
                "isLikedByUser": False,
            }
        if row["item_type"] == "paper":
            paper = self.papers.get(key)
            if paper is None:
                return self._as_listed(row, base)
            return {**base, **paper_summary(paper)}
        nested = self.collections.get(key)
        if nested is None:
            return self._as_listed(row, base)
        if not self._sees(nested["private"], nested["owner"]):
            return None
        return {
            **base,
            "id": nested["id"],
            "slug": slug_of(nested),
            "title": nested["title"],
            "description": nested["description"],
            "lastUpdated": iso_utc(nested["updated_at"]),
            "numberItems": nested["number_items"],
            "owner": owner_json(nested),
            "theme": nested["theme"],
            "private": nested["private"],
            "upvotes": nested["upvotes"],
        }


def paper_summary(paper: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": paper["id"],
        "title": paper["title"],
        "publishedAt": iso_utc(paper["published_at"]),
        "upvotes": paper["upvotes"],
        "authors": [{"name": name, "hidden": False} for name in paper["authors"]],
    }


def owner_json(row: asyncpg.Record) -> dict[str, Any]:
    return {"name": row["owner"], "type": row["owner_kind"], "isFollowing": False}


def collection_json(
    row: asyncpg.Record, items: list[asyncpg.Record], resolver: ItemResolver, *, with_position: bool = True
) -> dict[str, Any]:
    """The Hub's collection. In listings it has no `position`: the client adds its own there (and a second one
    would make it fail)."""
    shown = [item for item in (resolver.item_json(i) for i in items) if item is not None]
    body: dict[str, Any] = {
        "_id": row["id"],
        "slug": slug_of(row),
        "title": row["title"],
        "description": row["description"],
        "owner": owner_json(row),
        "items": shown,
        "lastUpdated": iso_utc(row["updated_at"]),
        "private": row["private"],
        "theme": row["theme"],
        "upvotes": row["upvotes"],
        "isUpvotedByUser": False,
        "shareUrl": None,
    }
    if with_position:
        body["position"] = row["position"]
    if row.get("gating") is not None:  # a mirrored collection's, as its upstream sent it
        body["gating"] = row["gating"]
    return body


def item_filter(item: str) -> tuple[str, str] | None:
    """`models/ns/x`, `datasets/ns/x`, `spaces/ns/x`, `papers/ID`, `collections/SLUG` -> (type, id) or None."""
    plural, _, rest = item.partition("/")
    kind = plural.removesuffix("s")
    if kind not in (*REPO_ITEM_TYPES, "paper", "collection") or not rest:
        return None
    return kind, rest
