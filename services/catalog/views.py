"""Thin views: parse the request, call the domain, shape the Hub's JSON."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import ConfigDict, Field

from services.catalog import history_views, resource_groups, spaces, store
from services.catalog.errors import catalog_error
from services.catalog.listing import Shape, parse_expand, repo_json
from services.catalog.names import NAME_PATTERN, name_problem
from services.catalog.repo_admin import after_create
from services.catalog.repos import RepoRef, can_read, create_repo
from services.catalog.space_secrets import SECRETS_CIPHER
from services.catalog.space_views import SpaceSetupFields
from services.runtime.auth import require_principal
from services.runtime.http import iso_utc, json_response, parse_body
from services.runtime.keys import CONFIG, OUTBOX, POOL, PRINCIPAL


async def whoami(request: web.Request) -> web.Response:
    principal = require_principal(request)
    pool = request.app[POOL]
    user = await store.account(pool, principal.user)
    token = await store.token(pool, principal.token_id)
    orgs = await store.orgs_of(pool, principal.user)
    return json_response(
        {
            "type": "user",
            "id": principal.user,
            "name": principal.user,
            "fullname": user["fullname"] if user else principal.user,
            "email": user["email"] if user else None,
            "emailVerified": user is not None and user["email"] is not None,
            "isPro": False,
            "canPay": False,
            "orgs": [
                {
                    "type": "org",
                    "id": o["name"],
                    "name": o["name"],
                    "fullname": o["fullname"],
                    "roleInOrg": o["role"],
                }
                for o in orgs
            ],
            "auth": {
                "type": "access_token",
                "accessToken": {
                    "displayName": token["display_name"] if token else "token",
                    "role": "write" if principal.role == "admin" else principal.role,
                    "createdAt": iso_utc(token["created_at"]) if token else None,
                },
            },
        }
    )


class CreateRepoBody(SpaceSetupFields):
    # Clients send more (storageTier, volumes, template...): not part of this catalog, ignored.
    model_config = ConfigDict(extra="ignore")

    # The name rules are stated in the document but checked by name_problem, so that a bad name gets the
    # Hub's InvalidName (its client shows that message), not a generic validation error.
    name: str = Field(json_schema_extra={"pattern": NAME_PATTERN})
    organization: str | None = Field(default=None, json_schema_extra={"pattern": NAME_PATTERN})
    type: Literal["model", "dataset", "space"] = "model"
    private: bool | None = None
    visibility: Literal["public", "private", "protected"] | None = None
    sdk: Literal["gradio", "streamlit", "docker", "static"] | None = None  # spaces
    resourceGroupId: str | None = Field(default=None, pattern="^[0-9a-fA-F]{24}$")  # an org's resource group


async def create_repo_view(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await parse_body(request, CreateRepoBody, status=400)
    private = body.visibility in ("private", "protected") if body.visibility else bool(body.private)
    # An organization that is given must be a valid one: "" is refused, not read as "none".
    namespace = body.organization if body.organization is not None else principal.user
    ref = RepoRef(body.type, namespace, body.name)
    base_url = request.app[CONFIG].http.url
    setup = body.setup() if body.type == "space" else None  # the client sends these for spaces only
    if setup is not None:
        setup.check(body.sdk)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await create_repo(conn, request.app[OUTBOX], principal, ref, private=private, base_url=base_url)
        await after_create(conn, row, sdk=body.sdk if body.type == "space" else None)
        if setup is not None and setup != spaces.SpaceSetup():
            await spaces.set_up(conn, row, setup, request.app[SECRETS_CIPHER])
        if body.resourceGroupId is not None:
            await resource_groups.assign_new_repo(conn, principal, row, body.resourceGroupId)
    return json_response({"url": ref.url(base_url), "name": ref.repo_id, "id": row["id"]})


async def repo_info(request: web.Request) -> web.Response:
    repo_type = request.match_info["type"].removesuffix("s")
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    pool = request.app[POOL]
    expand = parse_expand(request.query, repo_type)
    valid = name_problem(namespace, "namespace") is None and name_problem(name, "repo") is None
    row = await store.repo(pool, repo_type, namespace, name) if valid else None
    if row is None or not await can_read(pool, request.get(PRINCIPAL), row):
        # Missing and invisible look the same, as on the Hub.
        raise catalog_error(404, "RepoNotFound", f"Repository Not Found for url: {request.url}.")
    item = repo_json(row, Shape(full=True, expand=expand))
    if row["resource_group"] is not None and (expand is None or "resourceGroup" in expand):
        item["resourceGroup"] = await resource_groups.info_field(pool, row["resource_group"])
    want_sha = expand is None or "sha" in expand
    want_siblings = expand is None or "siblings" in expand
    if want_sha or want_siblings or "rev" in request.match_info:
        # At /revision/{rev} (or main): the commit's id and files; an unknown revision is a 404 RevisionNotFound.
        fields = await history_views.revision_fields(request, row)
        if want_sha:
            item["sha"] = fields["sha"]
        if want_siblings:
            item["siblings"] = fields["siblings"]
    return json_response(item)


async def repo_info_at_revision(request: web.Request) -> web.Response:
    """A repo's info at a revision: a branch, a tag, a PR ref or a commit id (full or short)."""
    return await repo_info(request)
