"""`/api/collections`: create, read, list, change and delete collections and their items (huggingface_hub's
`*_collection*` methods). The rules are in collections.py, the SQL in store_collections.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.catalog import collections, store, store_collections, store_listing
from services.catalog.collections import ItemResolver, ItemType
from services.catalog.errors import catalog_error
from services.catalog.names import name_problem
from services.catalog.repos import can_read, can_write_namespace
from services.catalog.responses import absent
from services.runtime.auth import Principal, require_principal
from services.runtime.http import json_response, parse_body, parse_query
from services.runtime.keys import API, CONFIG, POOL, PRINCIPAL

DEFAULT_PAGE = 100
SORTS = {
    "lastModified": "c.updated_at DESC, c.id",
    # Neither trending nor upvotes are tracked beyond the counter: both order by it, then by recency.
    "trending": "c.upvotes DESC, c.updated_at DESC, c.id",
    "upvotes": "c.upvotes DESC, c.updated_at DESC, c.id",
}


class Collection(BaseModel):
    """A collection as `get_collection` reads it (items are of several shapes, by `type`)."""

    model_config = ConfigDict(extra="allow")
    slug: str
    title: str
    description: str | None
    owner: dict[str, Any]
    items: list[dict[str, Any]]
    lastUpdated: str
    position: int | None = None  # absent in listings
    private: bool
    theme: str
    upvotes: int


class CollectionUpdated(BaseModel):
    data: Collection


class Deleted(BaseModel):
    success: bool


class ListCollectionsParams(BaseModel):
    # Not `| None`: a query array that may also be null reads to a fuzzer as if `owner=false` broke the schema.
    owner: list[Annotated[str, Field(min_length=1)]] = absent("Only these owners' collections (repeatable).")
    item: str | None = Field(default=None, description="Only collections holding it: `models/ns/x`, `papers/ID`...")
    sort: Literal["lastModified", "trending", "upvotes"] | None = None
    limit: int | None = Field(default=None, ge=1, le=DEFAULT_PAGE, description="Page size.")
    cursor: str | None = Field(default=None, description="Where the next page starts (from the `Link` header).")


class CreateCollectionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")  # resourceGroupId: resource groups are not part of this catalog
    title: str
    namespace: str
    description: str | None = None
    private: bool = False


class UpdateCollectionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str | None = None
    description: str | None = None
    position: int | None = Field(default=None, ge=0)
    private: bool | None = None
    theme: str | None = None


class ItemRef(BaseModel):
    id: str
    type: ItemType


class AddItemBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    item: ItemRef
    note: str | None = None


class UpdateItemBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    position: int | None = Field(default=None, ge=0)
    note: str | None = None


async def _readable(request: web.Request) -> tuple[Principal | None, tuple[str, ...]]:
    principal = request.get(PRINCIPAL)
    readable = await store_listing.readable_namespaces(request.app[POOL], principal.user) if principal else ()
    return principal, readable


async def _collection_json(request: web.Request, row: Any) -> dict[str, Any]:
    principal, readable = await _readable(request)
    pool = request.app[POOL]
    items = await store_collections.items_of(pool, [row["id"]])
    resolver = ItemResolver(principal, readable)
    await resolver.load(pool, items)
    return collections.collection_json(row, items, resolver)


def _slug(request: web.Request) -> tuple[str, str]:
    return request.match_info["namespace"], request.match_info["slug"]


async def list_collections(request: web.Request) -> web.Response:
    """Collections the caller may see, newest change first by default; items cut to a preview of four."""
    owners = {"owner": request.query.getall("owner")} if "owner" in request.query else {}
    params = parse_query(request, ListCollectionsParams, {**request.query, **owners})
    principal, readable = await _readable(request)
    pool = request.app[POOL]
    offset = 0
    if params.cursor is not None:
        if not params.cursor.isdigit() or len(params.cursor) > 9:
            raise catalog_error(400, "InvalidParameter", f"invalid cursor {params.cursor!r}")
        offset = int(params.cursor)
    limit = params.limit or DEFAULT_PAGE
    item = None
    if params.item is not None:
        wanted = collections.item_filter(params.item)
        if wanted is None:
            raise catalog_error(400, "InvalidParameter", f"invalid item {params.item!r}: e.g. models/ns/name")
        item = await _item_key_for_filter(request, principal, *wanted)
        if item is None:  # names nothing the caller can see: no collection holds it for them
            return json_response([])
    rows = await store_collections.list_collections(
        pool,
        readable=readable,
        owners=params.owner or [],
        item=item,
        order=SORTS[params.sort or "lastModified"],
        offset=offset,
        limit=limit,
    )
    page = rows[:limit]
    items = await store_collections.items_of(pool, [r["id"] for r in page], per_collection=collections.PREVIEW_ITEMS)
    resolver = ItemResolver(principal, readable)
    await resolver.load(pool, items)
    by_collection: dict[str, list[Any]] = {}
    for row in items:
        by_collection.setdefault(row["collection_id"], []).append(row)
    body = [collections.collection_json(r, by_collection.get(r["id"], []), resolver, with_position=False) for r in page]
    headers = None
    if len(rows) > limit:
        kept = [(k, v) for k, v in request.query.items() if k != "cursor"]
        next_url = f"{request.app[CONFIG].http.url.rstrip('/')}{request.path}?"
        headers = {"Link": f'<{next_url}{urlencode([*kept, ("cursor", str(offset + limit))])}>; rel="next"'}
    return json_response(body, headers=headers)


async def _item_key_for_filter(
    request: web.Request, principal: Principal | None, item_type: str, item_id: str
) -> tuple[str, str] | None:
    pool = request.app[POOL]
    if item_type in collections.REPO_ITEM_TYPES:
        namespace, _, name = item_id.partition("/")
        if name_problem(namespace, "namespace") is not None or name_problem(name, "repo") is not None:
            return None
        repo = await store.repo(pool, item_type, namespace, name)
        if repo is None:  # a mirrored collection's item as its upstream listed it is keyed by its name
            return item_type, item_id
        if not await can_read(pool, principal, repo):
            return None
        return item_type, repo["id"]
    if item_type == "collection":
        namespace, _, slug = item_id.partition("/")
        collection_id = collections.collection_id_of(namespace, slug)
        return (item_type, collection_id) if collection_id else None
    return item_type, item_id


async def get_collection(request: web.Request) -> web.Response:
    row = await collections.visible(request.app[POOL], request.get(PRINCIPAL), *_slug(request))
    return json_response(await _collection_json(request, row))


async def create_collection(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await parse_body(request, CreateCollectionBody, status=400)
    collections.check_text(body.title, "title", collections.MAX_TITLE, required=True)
    collections.check_text(body.description, "description", collections.MAX_DESCRIPTION)
    pool = request.app[POOL]
    async with pool.acquire() as conn, conn.transaction():
        if name_problem(body.namespace, "namespace") is not None or await store.account(conn, body.namespace) is None:
            raise catalog_error(404, "NotFound", f"no user or organization named {body.namespace!r}")
        if not await can_write_namespace(conn, principal, body.namespace):
            raise catalog_error(
                403, "Forbidden", f"you ({principal.user}) may not create collections in {body.namespace!r}"
            )
        await store_collections.lock_owner(conn, body.namespace)  # its position is the owner's count
        collection_id = collections.new_object_id()
        theme = collections.THEMES[int(collection_id, 16) % len(collections.THEMES)]
        created = await store_collections.insert_collection(
            conn,
            collection_id=collection_id,
            owner=body.namespace,
            title=body.title,
            description=body.description,
            private=body.private,
            theme=theme,
        )
        if not created:
            existing = await store_collections.by_title(conn, body.namespace, body.title)
            slug = collections.slug_of(existing) if existing else None
            # The client reads `slug` from this 409 when exists_ok=True.
            raise catalog_error(
                409, "CollectionExists", f"{body.namespace} already has a collection titled {body.title!r}", slug=slug
            )
    row = await store_collections.collection(pool, collection_id)
    return json_response(await _collection_json(request, row))


async def update_collection(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await parse_body(request, UpdateCollectionBody, status=400)
    collections.check_text(body.title, "title", collections.MAX_TITLE, required=True)
    collections.check_text(body.description, "description", collections.MAX_DESCRIPTION)
    collections.check_theme(body.theme)
    pool = request.app[POOL]
    async with pool.acquire() as conn, conn.transaction():
        row = await collections.writable(conn, principal, *_slug(request))
        changes = body.model_dump(exclude_none=True, exclude={"position"})
        if not await store_collections.update_collection(conn, row["id"], changes):
            raise catalog_error(
                409, "CollectionExists", f"{row['owner']} already has a collection titled {body.title!r}"
            )
        if body.position is not None:
            ids = await store_collections.owner_collection_ids(conn, row["owner"])
            await store_collections.set_collection_positions(conn, collections.moved(ids, row["id"], body.position))
    updated = await store_collections.collection(pool, row["id"])
    return json_response({"data": await _collection_json(request, updated)})


async def delete_collection(request: web.Request) -> web.Response:
    principal = require_principal(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await collections.writable(conn, principal, *_slug(request))
        await store_collections.delete_collection(conn, row["id"])
    return json_response({"success": True})


async def add_item(request: web.Request) -> web.Response:
    """Append a model, dataset, space, paper or collection; it must exist (and be visible to the caller)."""
    principal = require_principal(request)
    body = await parse_body(request, AddItemBody, status=400)
    collections.check_text(body.note, "note", collections.MAX_NOTE)
    pool = request.app[POOL]
    async with pool.acquire() as conn, conn.transaction():
        row = await collections.writable(conn, principal, *_slug(request))
        key = await collections.item_key(conn, principal, row, body.item.type, body.item.id)
        added = await store_collections.insert_item(
            conn,
            item_id=collections.new_object_id(),
            collection_id=row["id"],
            item_type=body.item.type,
            item_key=key,
            note=body.note,
        )
        if not added:
            raise catalog_error(
                409, "CollectionItemExists", f"{body.item.type} {body.item.id} is already in {collections.slug_of(row)}"
            )
        await store_collections.touch(conn, row["id"])
    updated = await store_collections.collection(pool, row["id"])
    return json_response(await _collection_json(request, updated))


async def _item_to_change(conn: Any, request: web.Request, principal: Principal) -> tuple[Any, Any]:
    row = await collections.writable(conn, principal, *_slug(request))
    item_id = request.match_info["item_id"]
    item = await store_collections.item(conn, row["id"], item_id)
    if item is None:
        raise catalog_error(404, "CollectionItemNotFound", f"no item {item_id} in {collections.slug_of(row)}")
    return row, item


async def update_item(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await parse_body(request, UpdateItemBody, status=400)
    collections.check_text(body.note, "note", collections.MAX_NOTE)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row, item = await _item_to_change(conn, request, principal)
        if body.note is not None:
            await store_collections.set_item_note(conn, item["id"], body.note)
        if body.position is not None:
            ids = await store_collections.item_ids_in_order(conn, row["id"])
            await store_collections.set_item_positions(conn, collections.moved(ids, item["id"], body.position))
        await store_collections.touch(conn, row["id"])
    return json_response({"success": True})


async def delete_item(request: web.Request) -> web.Response:
    principal = require_principal(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row, item = await _item_to_change(conn, request, principal)
        await store_collections.delete_item(conn, item["id"])
        await store_collections.set_item_positions(conn, await store_collections.item_ids_in_order(conn, row["id"]))
        await store_collections.touch(conn, row["id"])
    return json_response({"success": True})


def setup_collection_routes(app: web.Application) -> None:
    api = app[API]
    one = "/api/collections/{namespace}/{slug}"
    unseen = "No such collection, or a private one the caller may not see (CollectionNotFound)."
    read_only = (
        "The caller may see the collection but not change it (a read token, or a read member) (Forbidden); "
        "or it is a copy from a mirror's upstream, changed only by its syncs (MirrorReadOnly)."
    )
    invalid = "An invalid body: empty or too long title, description or note, unknown theme (InvalidParameter)."
    api.get(
        "/api/collections",
        list_collections,
        query=ListCollectionsParams,
        ok=list[Collection],
        errors={400: "An invalid sort, limit, item or cursor (InvalidParameter)."},
        summary='Collections the caller may see (`Link: rel="next"` pages; items cut to four, without position)',
    )
    api.post(
        "/api/collections",
        create_collection,
        body=CreateCollectionBody,
        ok=Collection,
        errors={
            400: invalid,
            403: "The caller may not create collections in that namespace (Forbidden).",
            404: "No user or organization of that name (NotFound).",
            409: "The namespace has a collection of that title: the body's `slug` names it (CollectionExists).",
        },
        token="required",
        summary="Create a collection",
    )
    api.get(one, get_collection, ok=Collection, errors={404: unseen}, summary="A collection with all its items")
    api.patch(
        one,
        update_collection,
        body=UpdateCollectionBody,
        ok=CollectionUpdated,
        errors={400: invalid, 403: read_only, 404: unseen, 409: "Another collection has that title."},
        token="required",
        summary="Change a collection's title, description, position, privacy or theme (answer under `data`)",
    )
    api.delete(
        one,
        delete_collection,
        ok=Deleted,
        errors={403: read_only, 404: unseen},
        token="required",
        summary="Delete a collection",
    )
    api.post(
        one + "/items",
        add_item,
        body=AddItemBody,
        ok=Collection,
        errors={
            400: invalid,
            403: read_only,
            404: "No such collection, or the item names no repo, paper or collection the caller can see "
            "(CollectionNotFound, RepoNotFound, PaperNotFound).",
            409: "The item is in the collection already (CollectionItemExists).",
        },
        token="required",
        summary="Add a model, dataset, space, paper or collection to a collection, with an optional note",
    )
    item_errors = {403: read_only, 404: unseen + " Or no such item in it (CollectionItemNotFound)."}
    api.patch(
        one + "/items/{item_id}",
        update_item,
        body=UpdateItemBody,
        ok=Deleted,
        errors={400: invalid, **item_errors},
        token="required",
        summary="Change an item's note or position",
    )
    api.delete(
        one + "/items/{item_id}",
        delete_item,
        ok=Deleted,
        errors=item_errors,
        token="required",
        summary="Remove an item from a collection",
    )
