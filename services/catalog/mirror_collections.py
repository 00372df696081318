"""Collections in a mirror's sync: those it follows by slug (`--collection`) and those of its authors (`--author`).

Each copy keeps the upstream's id and slug (so `get_collection(upstream_slug)` finds it here), its title,
description, theme, privacy, position, upvotes and lastUpdated, and its items with their ids, types, positions
and notes. An item naming a repo copied by this mirror shows that copy; any other item (a repo the mirror does
not follow, a paper, a collection not copied) is shown as the upstream listed it at the copy.

Incremental: an owner's listing shows each collection's lastUpdated; one that matches the last copy is not asked
for again. A collection followed by slug is asked for (nothing cheaper tells whether it changed) and written only
if its lastUpdated or its contents differ. Each collection is written in one transaction (old state or new, never
half); one the upstream answers badly fails alone and is named in the error. A collection is deleted here when
the upstream answers 404 for it, or when it is gone from every listing and each listing was read to its end.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import asyncpg
import orjson

from services.catalog import store_collections
from services.catalog import store_mirror_collections as store
from services.catalog.mirror_upstream import Upstream, UpstreamError, UpstreamGone, UpstreamUnreachable, _need

if TYPE_CHECKING:
    from services.catalog.mirror_sync import SyncOutcome

log = logging.getLogger(__name__)

LIST_PAGE = 100  # the Hub's largest page of collections
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
SLUG = re.compile(r"^([^/\s]+)/[^/\s]*-([0-9a-f]{24})$")
ITEM_TYPES = ("model", "dataset", "space", "paper", "collection")
REPO_TYPES = ("model", "dataset", "space")
COUNTS = ("created", "updated", "deleted", "unchanged", "failed")
MAX_CHANGES_KEPT = 200  # as for repos (mirror_sync.py): the `mirror sync --wait` report, not a log


class CollectionConflict(UpstreamError):
    """A local collection that is not this mirror's copy holds the id or the title."""


@dataclass(frozen=True)
class UpstreamItem:
    item_id: str  # the item's own `_id`
    item_type: str
    target: str  # what it names: `owner/name`, a paper's id, a collection's id
    position: int
    note: str | None
    listed: dict[str, Any]  # the item as the upstream listed it


@dataclass(frozen=True)
class UpstreamCollection:
    collection_id: str
    slug: str
    owner: str
    owner_kind: str
    title: str
    description: str | None
    theme: str
    private: bool
    position: int
    upvotes: int
    gating: Any  # as the wire carries it (false, or the gating settings); None when absent
    last_updated: str
    items: list[UpstreamItem]

    def digest(self) -> str:
        """Of what is copied (not of the items' likes or downloads, which move without the collection changing)."""
        items = [(i.item_id, i.item_type, i.target, i.position, i.note) for i in self.items]
        fields = [self.slug, self.owner_kind, self.title, self.description, self.theme, self.private]
        counts = [self.position, self.upvotes, self.gating]
        return hashlib.sha256(orjson.dumps([*fields, *counts, items], option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class CollectionsOutcome:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    changes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unreachable: str | None = None  # the upstream stopped answering: what was not reached yet keeps its state


def slug_id(slug: str) -> str | None:
    """The collection id a slug ends in (`owner/title-slug-<24 hex>`), or None if it is not a slug."""
    match = SLUG.match(slug)
    return match.group(2) if match else None


def _slug(data: dict[str, Any], where: str) -> tuple[str, str]:
    """A collection's slug and the id it ends in, as the upstream shows them."""
    slug = _need(data, "slug", str, where)
    collection_id = slug_id(slug)
    if collection_id is None:
        raise UpstreamError(f"{where}: slug {slug!r} is not owner/title-<24 hex id>")
    return slug, collection_id


def _time(value: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise UpstreamError(f"{where}: lastUpdated {value!r} is not a date") from None


def parse_item(data: object, where: str) -> UpstreamItem | None:
    """One item; None for a kind of item this catalog does not hold (a bucket): it is left out."""
    if not isinstance(data, dict):
        raise UpstreamError(f"{where}: an item is not an object")
    item_type = _need(data, "type", str, where)
    item_id = _need(data, "_id", str, f"{where} item")
    if not OBJECT_ID.match(item_id):
        raise UpstreamError(f"{where}: item _id {item_id!r} is not 24 hex digits")
    position = _need(data, "position", int, f"{where} item {item_id}")
    if item_type not in ITEM_TYPES:
        return None
    target = _need(data, "id", str, f"{where} item {item_id}")
    if item_type in REPO_TYPES and "/" not in target:
        raise UpstreamError(f"{where}: item {item_id} names {item_type} {target!r}, not owner/name")
    note = data.get("note")
    text = note.get("text") if isinstance(note, dict) else None
    listed = {k: v for k, v in data.items() if k not in ("_id", "type", "position", "note")}
    return UpstreamItem(item_id, item_type, target, position, text if isinstance(text, str) else None, listed)


def parse_collection(data: object, where: str) -> UpstreamCollection:
    if not isinstance(data, dict):
        raise UpstreamError(f"{where} did not answer an object")
    slug, collection_id = _slug(data, where)
    if data.get("_id", collection_id) != collection_id:
        raise UpstreamError(f"{where}: _id {data.get('_id')!r} is not the id its slug ends in")
    owner = _need(data, "owner", dict, where)
    owner_name = _need(owner, "name", str, f"{where} owner")
    if owner_name != slug.split("/")[0]:
        raise UpstreamError(f"{where}: owner {owner_name!r} is not the slug's {slug.split('/')[0]!r}")
    description = data.get("description")
    last_updated = _need(data, "lastUpdated", str, where)
    _time(last_updated, where)
    items = [item for raw in _need(data, "items", list, where) if (item := parse_item(raw, where)) is not None]
    return UpstreamCollection(
        collection_id=collection_id,
        slug=slug,
        owner=owner_name,
        owner_kind="org" if owner.get("type") == "org" else "user",
        title=_need(data, "title", str, where),
        description=description if isinstance(description, str) else None,
        theme=_need(data, "theme", str, where),
        private=_need(data, "private", bool, where),
        position=_need(data, "position", int, where),
        upvotes=_need(data, "upvotes", int, where),
        gating=data.get("gating"),
        last_updated=last_updated,
        items=sorted(items, key=lambda i: i.position),
    )


async def fetch_collection(upstream: Upstream, slug: str) -> UpstreamCollection:
    path = f"/api/collections/{quote(slug, safe='/')}"
    data, _ = await upstream.get(path)
    return parse_collection(data, upstream.url + path)


async def owner_listing(upstream: Upstream, owner: str) -> dict[str, tuple[str, str]]:
    """Every collection the upstream lists for `owner`, page after page: id -> (slug, lastUpdated)."""
    found: dict[str, tuple[str, str]] = {}
    where = f"{upstream.url}/api/collections?owner={owner}"
    next_url: str | None = "/api/collections"
    query: list[tuple[str, str]] | None = [("owner", owner), ("limit", str(LIST_PAGE))]
    while next_url is not None:
        page, next_url = await upstream.get(next_url, query)
        query = None  # the next link carries the query
        if not isinstance(page, list):
            raise UpstreamError(f"{where} did not answer a list")
        if not page:  # the Hub may link a next page after the last one: an empty page ends it
            break
        for entry in page:
            if not isinstance(entry, dict):
                raise UpstreamError(f"{where}: an entry is not an object")
            slug, collection_id = _slug(entry, where)
            last_updated = _need(entry, "lastUpdated", str, f"{where} {slug}")
            found[collection_id] = (slug, last_updated)
    return found


async def copy_collections(pool: asyncpg.Pool, mirror: asyncpg.Record, upstream: Upstream, into: SyncOutcome) -> None:
    """The sync's collections part (called by `sync_mirror` once its repos are done): counts under
    `counts["collections"]`, changes and errors beside the repos'."""
    collections = await sync_collections(pool, mirror, upstream)
    if collections is None:
        return
    into.counts["collections"] = collections.counts
    into.changes += collections.changes[: max(0, MAX_CHANGES_KEPT - len(into.changes))]
    into.errors += collections.errors
    if collections.unreachable is not None:
        into.reachable = False
        into.errors.insert(0, collections.unreachable)


async def sync_collections(pool: asyncpg.Pool, mirror: asyncpg.Record, upstream: Upstream) -> CollectionsOutcome | None:
    """Copy what changed of the collections the mirror follows; None when it follows none (no --collection,
    no --author)."""
    if not (mirror["collections"] or mirror["authors"]):
        return None
    outcome = CollectionsOutcome()
    try:
        await _sync(pool, mirror, upstream, outcome)
    except UpstreamUnreachable as exc:
        outcome.unreachable = str(exc)
    return outcome


async def _sync(pool: asyncpg.Pool, mirror: asyncpg.Record, upstream: Upstream, outcome: CollectionsOutcome) -> None:
    name = mirror["name"]
    known = {r["collection_id"]: r for r in await store.mirrored(pool, name)}
    # id -> (slug to ask for, lastUpdated from a listing or None when only a fetch tells)
    wanted: dict[str, tuple[str, str | None]] = {}
    for slug in mirror["collections"]:
        if (collection_id := slug_id(slug)) is None:
            outcome.errors.append(f"collection {slug!r}: not a slug (owner/title-<24 hex id>)")
            continue
        wanted[collection_id] = (slug, None)
    complete = True
    for owner in mirror["authors"]:
        try:
            listed = await owner_listing(upstream, owner)
        except UpstreamUnreachable:
            raise
        except UpstreamError as exc:
            complete = False
            outcome.errors.append(f"listing the collections of {owner}: {exc}")
            continue
        for collection_id, (slug, last_updated) in listed.items():
            wanted[collection_id] = (slug, last_updated)
    gone: set[str] = set()
    for collection_id, (slug, last_updated) in wanted.items():
        row = known.get(collection_id)
        if row is not None and last_updated is not None and row["upstream_updated"] == last_updated:
            outcome.counts["unchanged"] += 1
            continue
        try:
            await _copy_one(pool, name, upstream, collection_id, slug, row, outcome)
        except UpstreamGone:
            gone.add(collection_id)
        except UpstreamUnreachable:
            raise
        except (UpstreamError, asyncpg.PostgresError) as exc:
            outcome.counts["failed"] += 1
            outcome.errors.append(f"collection {slug}: {exc}")
            log.warning("mirror %s: could not copy collection %s: %s", name, slug, exc)
    # Gone upstream: asked for by slug and answered 404, or no longer in complete listings.
    for collection_id, row in known.items():
        if collection_id in gone or (complete and collection_id not in wanted):
            await store.delete_copy(pool, collection_id)
            outcome.counts["deleted"] += 1
            outcome.changes.append(f"deleted collection {row['upstream_slug']}")


async def _copy_one(
    pool: asyncpg.Pool,
    mirror: str,
    upstream: Upstream,
    collection_id: str,
    slug: str,
    known: asyncpg.Record | None,
    outcome: CollectionsOutcome,
) -> None:
    collection = await fetch_collection(upstream, slug)
    if collection.collection_id != collection_id:
        raise UpstreamError(f"the upstream answered collection {collection.slug} for {slug}")
    digest = collection.digest()
    if known is not None and (known["upstream_updated"], known["upstream_digest"]) == (
        collection.last_updated,
        digest,
    ):
        outcome.counts["unchanged"] += 1
        return
    async with pool.acquire() as conn, conn.transaction():
        what = await write_collection(conn, mirror, collection, digest)
    outcome.counts[what] += 1
    outcome.changes.append(f"{what} collection {collection.slug}")


async def write_collection(conn: asyncpg.Connection, mirror: str, up: UpstreamCollection, digest: str) -> str:
    """The collection's new state with all its items, in the caller's transaction; "created" or "updated"."""
    await store_collections.lock_owner(conn, up.owner)  # before any of the owner's rows, as every change does
    row = await store.collection_for_update(conn, up.collection_id)
    if row is not None and row["mirror"] != mirror:
        raise CollectionConflict(f"a collection with the id of {up.slug} that is not a copy from mirror {mirror!r} "
                                 "exists here; it is left alone")  # fmt: skip
    if (other := await store.title_taken(conn, up.owner, up.title, up.collection_id)) is not None:
        if other["mirror"] != mirror:
            raise CollectionConflict(f"{up.owner} has a collection of its own titled {up.title!r} here ({other['id']})")
        # Titles are unique per owner, so upstream the other copy was retitled (titles swapped, say): it gives
        # the title up until its own new state is written (in this sync, or in the next one if it fails now).
        await store.set_title(conn, other["id"], f"{other['title']} ({other['id']})")
    await store.ensure_owner(conn, up.owner, up.owner_kind)
    fields = {
        "id": up.collection_id,
        "owner": up.owner,
        "title": up.title,
        "description": up.description,
        "private": up.private,
        "theme": up.theme,
        "position": up.position,
        "upvotes": up.upvotes,
        "updated_at": _time(up.last_updated, up.slug),
        "mirror": mirror,
        "upstream_slug": up.slug,
        "gating": up.gating,
    }
    await store.write_collection(conn, exists=row is not None, fields=fields)
    repos = [(i.item_type, i.target) for i in up.items if i.item_type in REPO_TYPES]
    copies = await store.copied_repo_ids(conn, mirror, repos) if repos else {}
    rows = [
        (
            i.item_id,
            i.item_type,
            # A repo copied here is shown as its copy (by id, as local items are); anything else as listed.
            copies.get(f"{i.item_type}/{i.target}", i.target),
            i.note,
            i.position,
            i.listed,
        )
        for i in up.items
    ]
    try:
        await store.replace_items(conn, up.collection_id, rows)
    except asyncpg.UniqueViolationError as exc:  # the transaction is lost: the collection keeps its old state
        raise UpstreamError(
            f"{up.slug} lists the same item twice, or an item id another collection here holds ({exc.detail})"
        ) from exc
    await store.upsert_mirrored(
        conn, collection_id=up.collection_id, mirror=mirror, upstream_updated=up.last_updated, upstream_digest=digest
    )
    return "created" if row is None else "updated"
