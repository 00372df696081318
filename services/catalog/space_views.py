"""`/api/spaces/{id}/...`: runtime, hardware, sleep time, pause, restart, variables and secrets
(huggingface_hub's `*_space_*` methods; duplication is duplicate_views.py). Rules in spaces.py, SQL in
store_spaces.py; secrets are encrypted with the key of space_secrets.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.catalog import spaces, store_files, store_spaces
from services.catalog.errors import catalog_error
from services.catalog.space_secrets import SECRETS_CIPHER, secrets_ctx
from services.catalog.spaces import Runtime
from services.catalog.store_spaces import SECRETS, VARIABLES, Entries
from services.runtime.auth import require_principal
from services.runtime.http import iso_utc, json_response, parse_body
from services.runtime.keys import API, POOL, PRINCIPAL

SPACE = "/api/spaces/{namespace}/{name}"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Hardware(BaseModel):
    current: str | None
    requested: str | None


class SpaceRuntime(BaseModel):
    model_config = ConfigDict(extra="allow")
    stage: Literal["RUNNING", "PAUSED"]
    hardware: Hardware
    gcTimeout: int | None


class Variable(BaseModel):
    value: str
    description: str | None
    updatedAt: str


class Secret(BaseModel):
    description: str | None
    updatedAt: str


class HardwareBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    flavor: str
    sleepTimeSeconds: int | None = None


class SleepTimeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    seconds: int


class RestartParams(BaseModel):
    factory: bool | None = Field(default=None, description="Rebuild without cache: the same here (nothing is built).")


class EntryBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str
    value: str
    description: str | None = None


class KeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str


class SpaceSetupFields(BaseModel):
    """What a new space starts with: the fields create_repo and duplicate_repo send for a space."""

    hardware: str | None = None
    sleepTimeSeconds: int | None = None
    secrets: list[EntryBody] = Field(default_factory=list)
    variables: list[EntryBody] = Field(default_factory=list)

    def setup(self) -> spaces.SpaceSetup:
        return spaces.SpaceSetup(
            hardware=self.hardware,
            sleep_time=self.sleepTimeSeconds,
            variables=tuple((e.key, e.value, e.description) for e in self.variables),
            secrets=tuple((e.key, e.value, e.description) for e in self.secrets),
        )


def _names(request: web.Request) -> tuple[str, str]:
    return request.match_info["namespace"], request.match_info["name"]


async def get_runtime(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    space = await spaces.readable_space(pool, request.get(PRINCIPAL), *_names(request))
    return json_response(Runtime.of(await store_spaces.runtime(pool, space["id"])).json())


async def _change_runtime(request: web.Request, change: Any) -> web.Response:
    """Apply `change(space, runtime) -> runtime` under the space's row lock, and answer the new runtime."""
    principal = require_principal(request)  # again: the views that read a body ask first (no token: 401)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        space = await spaces.managed_space(conn, principal, *_names(request))
        await store_files.lock_repo(conn, space["id"])
        runtime = change(space, Runtime.of(await store_spaces.runtime(conn, space["id"])))
        await spaces.save(conn, space, runtime)
    return json_response(runtime.json())


async def request_hardware(request: web.Request) -> web.Response:
    require_principal(request)
    body = await parse_body(request, HardwareBody, status=400)
    spaces.check_sleep_time(body.sleepTimeSeconds)

    def change(space: Any, runtime: Runtime) -> Runtime:
        spaces.check_hardware(body.flavor, space["sdk"])
        return runtime.with_hardware(body.flavor, body.sleepTimeSeconds)

    return await _change_runtime(request, change)


async def set_sleep_time(request: web.Request) -> web.Response:
    require_principal(request)
    body = await parse_body(request, SleepTimeBody, status=400)
    spaces.check_sleep_time(body.seconds)
    return await _change_runtime(request, lambda space, runtime: runtime.with_sleep_time(body.seconds))


async def pause_space(request: web.Request) -> web.Response:
    def change(space: Any, runtime: Runtime) -> Runtime:
        if space["sdk"] == "static":
            raise catalog_error(400, "StaticSpace", "a static space is always running: it cannot be paused")
        return runtime.paused()

    return await _change_runtime(request, change)


async def restart_space(request: web.Request) -> web.Response:
    return await _change_runtime(request, lambda space, runtime: runtime.restarted())


# -- variables and secrets ---------------------------------------------------------------------------------------


def _entries_json(rows: list[Any]) -> dict[str, Any]:
    """{KEY: {value?, description, updatedAt}}: a secret's row has no value to show."""
    return {
        r["key"]: {
            **({"value": r["value"]} if "value" in r else {}),
            "description": r["description"],
            "updatedAt": iso_utc(r["updated_at"]),
        }
        for r in rows
    }


def _stored(request: web.Request, kind: Entries, value: str) -> str | bytes:
    return request.app[SECRETS_CIPHER].encrypt(value.encode()) if kind is SECRETS else value


async def _answer_entries(request: web.Request, kind: Entries, change: Any = None) -> web.Response:
    """Apply `change(conn, space_pk)` if given, then answer all the space's entries of this kind."""
    principal = require_principal(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        space = await spaces.managed_space(conn, principal, *_names(request))
        if change is not None:
            await change(conn, space["id"])
        return json_response(_entries_json(await store_spaces.entries(conn, kind, space["id"])))


def entry_views(kind: Entries) -> tuple[Handler, Handler, Handler]:
    """The GET, POST and DELETE views of a space's variables or secrets (same calls, two tables)."""

    async def get_entries(request: web.Request) -> web.Response:
        return await _answer_entries(request, kind)

    async def add_entry(request: web.Request) -> web.Response:
        require_principal(request)
        body = await parse_body(request, EntryBody, status=400)
        spaces.check_entry(body.key, body.value, body.description)
        stored = _stored(request, kind, body.value)
        return await _answer_entries(
            request,
            kind,
            lambda conn, pk: store_spaces.set_entry(conn, kind, pk, body.key, stored, body.description),
        )

    async def delete_entry(request: web.Request) -> web.Response:
        require_principal(request)
        body = await parse_body(request, KeyBody, status=400)
        return await _answer_entries(
            request, kind, lambda conn, pk: store_spaces.delete_entry(conn, kind, pk, body.key)
        )

    return get_entries, add_entry, delete_entry


def setup_space_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(secrets_ctx)
    api = app[API]
    unseen = "No such space, or a private one the caller may not see (RepoNotFound)."
    manage = {
        403: "The caller may see the space but not manage it: a read token or a read member (Forbidden).",
        404: unseen,
    }
    invalid = "An invalid body: unknown hardware, a sleep time below -1, a bad key or value (InvalidParameter)."
    static = "Unknown hardware or sleep time (InvalidParameter); a static space cannot have it (StaticSpace)."
    api.get(
        SPACE + "/runtime",
        get_runtime,
        ok=SpaceRuntime,
        errors={404: unseen},
        summary="A space's runtime: the stage and hardware last asked for (hubstream runs no Space apps)",
    )
    for path, view, body, query, errors, summary in (
        ("/hardware", request_hardware, HardwareBody, None, {400: static}, "Ask for hardware (and a sleep time)"),
        ("/sleeptime", set_sleep_time, SleepTimeBody, None, {400: invalid}, "Set the sleep time (-1: never)"),
        ("/pause", pause_space, None, None, {400: "A static space cannot be paused (StaticSpace)."}, "Pause"),
        ("/restart", restart_space, None, RestartParams, {}, "Restart a space (a paused one runs again)"),
    ):
        api.post(
            SPACE + path,
            view,
            body=body,
            query=query,
            ok=SpaceRuntime,
            errors={**errors, **manage},
            token="required",
            summary=summary,
        )
    for path, kind, model, what in (
        ("/variables", VARIABLES, Variable, "variables (with their values)"),
        ("/secrets", SECRETS, Secret, "secrets (never their values)"),
    ):
        getter, adder, deleter = entry_views(kind)
        name = path.strip("/")
        api.get(
            SPACE + path,
            getter,
            ok=dict[str, model],
            errors=manage,
            token="required",
            summary=f"The {what}",
            operation_id=f"get_space_{name}",
        )
        api.post(
            SPACE + path,
            adder,
            body=EntryBody,
            ok=dict[str, model],
            errors={400: invalid, **manage},
            token="required",
            summary=f"Add or replace one of the space's {name}; answers all of them",
            operation_id=f"add_space_{name}",
        )
        api.delete(
            SPACE + path,
            deleter,
            body=KeyBody,
            ok=dict[str, model],
            errors={400: invalid, **manage},
            token="required",
            summary=f"Remove one of the space's {name} (by `key`); answers the rest",
            operation_id=f"delete_space_{name}",
        )
