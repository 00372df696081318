"""Organizations: members and overviews (`HfApi.list_organization_members`, `get_user_overview`,
`get_organization_overview`), and resource groups, which narrow who may read and write an org's repos.

Resource groups (the client has no methods for them; these are the Hub's paths): an org admin creates a
group, adds org members to it with a role (`read`, `write`, `admin`) and assigns repos to it. On a repo in a
group, org admins keep full access and every other member holds only their role in the group (none: a
private repo is invisible to them, a public one read-only); with `autoJoin` every member holds its role.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.catalog import store, store_orgs
from services.catalog.access import readable_repo
from services.catalog.errors import catalog_error
from services.catalog.history_views import _cursor, _next_link
from services.runtime.auth import require_principal
from services.runtime.http import json_response, parse_body
from services.runtime.keys import API, POOL, PRINCIPAL

PAGE = 500
Role = Literal["admin", "write", "read"]


class OrgMember(BaseModel):
    user: str
    fullname: str
    avatarUrl: str
    type: Literal["user"]
    isPro: bool
    role: Role | None = Field(default=None, description="Shown to the organization's own members.")


class UserOverview(BaseModel):
    user: str
    fullname: str
    avatarUrl: str
    type: Literal["user"]
    isPro: bool
    numModels: int
    numDatasets: int
    numSpaces: int
    numLikes: int
    orgs: list[dict[str, Any]]


class OrgOverview(BaseModel):
    name: str
    fullname: str
    avatarUrl: str
    type: Literal["org"]
    isVerified: bool
    numUsers: int
    numModels: int
    numDatasets: int
    numSpaces: int


class GroupUser(BaseModel):
    user: str
    role: Role


class GroupRepo(BaseModel):
    type: Literal["model", "dataset", "space"]
    name: str = Field(description="`namespace/name`, in the group's organization.")


class AutoJoin(BaseModel):
    enabled: bool
    role: Role = "read"


class ResourceGroup(BaseModel):
    id: str
    name: str
    description: str
    autoJoin: AutoJoin
    users: list[dict[str, Any]]
    repos: list[dict[str, Any]]


class CreateGroupBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    users: list[GroupUser] = []
    repos: list[GroupRepo] = []
    autoJoin: AutoJoin | None = None


class UpdateGroupBody(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)


class GroupSettingsBody(BaseModel):
    autoJoin: AutoJoin


class GroupUsersBody(BaseModel):
    users: list[GroupUser] = Field(min_length=1)


class GroupRoleBody(BaseModel):
    role: Role


class AssignGroupBody(BaseModel):
    resourceGroupId: str | None = Field(description="The group (24 hex digits), or null to take the repo out.")


class AssignedGroup(BaseModel):
    name: str
    type: str
    resourceGroupId: str | None


def _user_json(name: str, fullname: str) -> dict[str, Any]:
    return {"user": name, "fullname": fullname or name, "avatarUrl": "", "type": "user", "isPro": False}


async def _account(request: web.Request, key: str, kind: str) -> asyncpg.Record:
    name = request.match_info[key]
    row = await store.account(request.app[POOL], name)
    if row is None or row["kind"] != kind:
        raise catalog_error(404, "NotFound", f"no {'organization' if kind == 'org' else 'user'} named {name!r}")
    return row


async def members_view(request: web.Request) -> web.Response:
    org = await _account(request, "org", "org")
    pool = request.app[POOL]
    principal = request.get(PRINCIPAL)
    insider = principal is not None and await store.member_role(pool, org["name"], principal.user) is not None
    offset = _cursor(request)
    rows = await store_orgs.members(pool, org["name"], offset=offset, limit=PAGE + 1)
    items = [{**_user_json(r["name"], r["fullname"]), **({"role": r["role"]} if insider else {})} for r in rows[:PAGE]]
    return json_response(items, headers=_next_link(request, offset + PAGE) if len(rows) > PAGE else None)


async def user_overview_view(request: web.Request) -> web.Response:
    user = await _account(request, "user", "user")
    pool = request.app[POOL]
    n = await store_orgs.counts(pool, user["name"])
    orgs = [
        {"name": o["name"], "fullname": o["fullname"], "avatarUrl": ""} for o in await store.orgs_of(pool, user["name"])
    ]
    return json_response(
        {
            **_user_json(user["name"], user["fullname"]),
            "numModels": n["models"],
            "numDatasets": n["datasets"],
            "numSpaces": n["spaces"],
            "numLikes": n["likes"],
            "orgs": orgs,
        }
    )


async def org_overview_view(request: web.Request) -> web.Response:
    org = await _account(request, "org", "org")
    n = await store_orgs.counts(request.app[POOL], org["name"])
    return json_response(
        {
            "name": org["name"],
            "fullname": org["fullname"] or org["name"],
            "avatarUrl": "",
            "type": "org",
            "isVerified": False,
            "numUsers": n["users"],
            "numModels": n["models"],
            "numDatasets": n["datasets"],
            "numSpaces": n["spaces"],
        }
    )


# Resource groups


async def _org_for(request: web.Request, *, admin: bool) -> str:
    """The org of the URL; its members may look at its groups, its admins change them."""
    principal = require_principal(request)
    org = (await _account(request, "org", "org"))["name"]
    role = await store.member_role(request.app[POOL], org, principal.user)
    if role is None:
        raise catalog_error(404, "NotFound", f"no organization named {org!r} that you are a member of")
    if admin and (role != "admin" or principal.role == "read"):
        raise catalog_error(403, "Forbidden", f"only admins of {org} (with a write token) manage its resource groups")
    return org


async def _group(
    conn: asyncpg.Connection | asyncpg.Pool, org: str, group_id: str, *, lock: bool = False
) -> asyncpg.Record:
    found = await store_orgs.group(conn, org, group_id.lower(), for_update=lock)
    if found is None:
        raise catalog_error(404, "ResourceGroupNotFound", f"no resource group {group_id!r} in {org}")
    return found


async def _groups_json(conn: asyncpg.Connection | asyncpg.Pool, rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    ids = [g["id"] for g in rows]
    users = await store_orgs.group_users(conn, ids)
    repos = await store_orgs.group_repos(conn, ids)
    return [
        {
            "id": g["id"],
            "name": g["name"],
            "description": g["description"],
            "autoJoin": {"enabled": g["auto_join"], "role": g["auto_join_role"]},
            "users": [
                {"user": u["user_name"], "role": u["role"], "addedBy": u["added_by"]}
                for u in users
                if u["group_id"] == g["id"]
            ],
            "repos": [
                {"name": f"{r['namespace']}/{r['name']}", "type": r["repo_type"], "private": r["private"]}
                for r in repos
                if r["resource_group"] == g["id"]
            ],
        }
        for g in rows
    ]


async def _add_users(conn: asyncpg.Connection, org: str, group_id: str, users: list[GroupUser], by: str) -> None:
    if outsiders := await store_orgs.non_members(conn, org, [u.user for u in users]):
        raise catalog_error(
            400,
            "NotOrgMember",
            f"not members of {org}, so they cannot join its resource groups: {', '.join(outsiders)}",
        )
    for u in users:
        await store_orgs.upsert_group_user(conn, group_id, u.user, u.role, by)


async def _assign(conn: asyncpg.Connection, org: str, group_id: str | None, repos: list[GroupRepo]) -> None:
    for r in repos:
        namespace, _, name = r.name.partition("/")
        row = await store.repo(conn, r.type, namespace, name)
        if row is None or namespace != org:
            raise catalog_error(404, "RepoNotFound", f"no {r.type} repo {r.name!r} in {org}")
        await store_orgs.set_repo_group(conn, row["id"], group_id)


async def list_resource_groups_view(request: web.Request) -> web.Response:
    org = await _org_for(request, admin=False)
    pool = request.app[POOL]
    return json_response(await _groups_json(pool, await store_orgs.groups(pool, org)))


async def create_resource_group_view(request: web.Request) -> web.Response:
    org = await _org_for(request, admin=True)
    body = await parse_body(request, CreateGroupBody, status=400)
    user = request[PRINCIPAL].user
    auto = body.autoJoin or AutoJoin(enabled=False)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await store_orgs.lock_groups(conn, org)
        row = await store_orgs.insert_group(
            conn,
            group_id=secrets.token_hex(12),
            org=org,
            name=body.name.strip(),
            description=body.description,
            auto_join=auto.enabled,
            role=auto.role,
        )
        if row is None:
            raise catalog_error(409, "ResourceGroupExists", f"{org} already has a resource group named {body.name!r}")
        await _add_users(conn, org, row["id"], body.users, user)
        await _assign(conn, org, row["id"], body.repos)
        (answer,) = await _groups_json(conn, [row])
    return json_response(answer)


async def get_resource_group_view(request: web.Request) -> web.Response:
    org = await _org_for(request, admin=False)
    pool = request.app[POOL]
    (answer,) = await _groups_json(pool, [await _group(pool, org, request.match_info["group"])])
    return json_response(answer)


async def update_resource_group_view(request: web.Request) -> web.Response:
    org = await _org_for(request, admin=True)
    body = await parse_body(request, UpdateGroupBody, status=400)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        found = await _group(conn, org, request.match_info["group"], lock=True)
        name = body.name.strip() if body.name is not None else found["name"]
        description = body.description if body.description is not None else found["description"]
        if not await store_orgs.update_group(conn, found["id"], name, description):
            raise catalog_error(409, "ResourceGroupExists", f"{org} already has a resource group named {name!r}")
        (answer,) = await _groups_json(conn, [await _group(conn, org, found["id"])])
    return json_response(answer)


async def delete_resource_group_view(request: web.Request) -> web.Response:
    """Its repos return to the organization's own rule (every member by their org role)."""
    org = await _org_for(request, admin=True)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await store_orgs.lock_groups(conn, org)
        found = await _group(conn, org, request.match_info["group"], lock=True)
        await store_orgs.delete_group(conn, found["id"])
    return json_response({"deleted": found["id"]})


async def group_settings_view(request: web.Request) -> web.Response:
    org = await _org_for(request, admin=True)
    body = await parse_body(request, GroupSettingsBody, status=400)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        found = await _group(conn, org, request.match_info["group"], lock=True)
        await store_orgs.set_auto_join(conn, found["id"], body.autoJoin.enabled, body.autoJoin.role)
        (answer,) = await _groups_json(conn, [await _group(conn, org, found["id"])])
    return json_response(answer)


async def add_resource_group_users_view(request: web.Request) -> web.Response:
    org = await _org_for(request, admin=True)
    body = await parse_body(request, GroupUsersBody, status=400)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        found = await _group(conn, org, request.match_info["group"], lock=True)
        await _add_users(conn, org, found["id"], body.users, request[PRINCIPAL].user)
        (answer,) = await _groups_json(conn, [found])
    return json_response(answer)


async def _change_user(request: web.Request, role: str | None) -> web.Response:
    org = await _org_for(request, admin=True)
    user = request.match_info["user"]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        found = await _group(conn, org, request.match_info["group"], lock=True)
        if role is None:
            done = await store_orgs.remove_group_user(conn, found["id"], user)
        else:
            done = await store_orgs.update_group_user(conn, found["id"], user, role)
        if not done:
            raise catalog_error(404, "NotFound", f"{user!r} is not in the resource group {found['name']!r}")
        (answer,) = await _groups_json(conn, [found])
    return json_response(answer)


async def update_resource_group_user_view(request: web.Request) -> web.Response:
    require_principal(request)  # a caller without a token hears that first, whatever the body
    body = await parse_body(request, GroupRoleBody, status=400)
    return await _change_user(request, body.role)


async def remove_resource_group_user_view(request: web.Request) -> web.Response:
    return await _change_user(request, None)


async def assign_repo_view(request: web.Request) -> web.Response:
    """Put a repo in a resource group of its organization, or (null) take it out; the org's admins only."""
    principal = require_principal(request)
    repo = await readable_repo(request)
    body = await parse_body(request, AssignGroupBody, status=400)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        role = await store.member_role(conn, repo["namespace"], principal.user)
        if role != "admin" or principal.role == "read":
            raise catalog_error(
                403,
                "Forbidden",
                f"only admins of the organization {repo['namespace']} assign its repos to resource groups",
            )
        await store_orgs.lock_groups(conn, repo["namespace"])
        group_id = None
        if body.resourceGroupId is not None:
            group_id = (await _group(conn, repo["namespace"], body.resourceGroupId))["id"]
        await store_orgs.set_repo_group(conn, repo["id"], group_id)
    name = f"{repo['namespace']}/{repo['name']}"
    return json_response({"name": name, "type": repo["repo_type"], "resourceGroupId": group_id})


def setup_org_routes(app: web.Application) -> None:
    api = app[API]
    org = "/api/organizations/{org}"
    paged = {400: "A cursor that is not the one the previous page's Link gave (InvalidInput)."}
    api.get(
        org + "/members",
        members_view,
        ok=list[OrgMember],
        errors={**paged, 404: "No such organization (NotFound)."},
        summary="An organization's members (their roles shown to members)",
    )
    api.get(
        org + "/overview",
        org_overview_view,
        ok=OrgOverview,
        errors={404: "No such organization (NotFound)."},
        summary="An organization: public repo counts and members",
    )
    api.get(
        "/api/users/{user}/overview",
        user_overview_view,
        ok=UserOverview,
        errors={404: "No such user (NotFound)."},
        summary="A user: public repo counts, likes and organizations",
    )
    groups = org + "/resource-groups"
    one = groups + "/{group:[0-9a-fA-F]{24}}"
    seen = {404: "No such organization among the caller's, or no such group in it (NotFound, ResourceGroupNotFound)."}
    managed = {
        **seen,
        400: "An invalid body (ValidationError, InvalidInput), or a user not in the org (NotOrgMember).",
        403: "The caller is not an admin of the organization, or the token is read-only (Forbidden).",
    }
    api.get(
        groups,
        list_resource_groups_view,
        ok=list[ResourceGroup],
        errors=seen,
        token="required",
        summary="Resource groups",
    )
    for method, path, view, body, summary, extra in (
        (
            "POST",
            groups,
            create_resource_group_view,
            CreateGroupBody,
            "Create a resource group (users, repos, autoJoin)",
            {409: "A group of that name exists (ResourceGroupExists)."},
        ),
        (
            "PATCH",
            one,
            update_resource_group_view,
            UpdateGroupBody,
            "Rename or describe a resource group",
            {409: "A group of that name exists (ResourceGroupExists)."},
        ),
        (
            "DELETE",
            one,
            delete_resource_group_view,
            None,
            "Delete a resource group (its repos go back to the org's rule)",
            {},
        ),
        ("POST", one + "/settings", group_settings_view, GroupSettingsBody, "A resource group's autoJoin setting", {}),
        (
            "POST",
            one + "/users",
            add_resource_group_users_view,
            GroupUsersBody,
            "Add org members to a group, or change their roles",
            {},
        ),
        (
            "PATCH",
            one + "/users/{user}",
            update_resource_group_user_view,
            GroupRoleBody,
            "Change a member's role in a group",
            {},
        ),
        ("DELETE", one + "/users/{user}", remove_resource_group_user_view, None, "Take a user out of a group", {}),
    ):
        ok: Any = dict[str, str] if view is delete_resource_group_view else ResourceGroup
        api.route(method, path, view, body=body, ok=ok, errors={**managed, **extra}, token="required", summary=summary)
    api.get(one, get_resource_group_view, ok=ResourceGroup, errors=seen, token="required", summary="A resource group")
    api.post(
        "/api/{type:models|datasets|spaces}/{namespace}/{name}/resource-group",
        assign_repo_view,
        body=AssignGroupBody,
        ok=AssignedGroup,
        errors={
            400: "An invalid body (ValidationError) or repo name.",
            403: "The caller is not an admin of the repo's organization (Forbidden).",
            404: "No such repo (RepoNotFound), or no such group in its organization (ResourceGroupNotFound).",
        },
        token="required",
        summary="Assign a repo to a resource group of its organization (null: none)",
    )
