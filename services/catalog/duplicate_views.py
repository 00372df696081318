"""`POST /api/{models|datasets|spaces}/{id}/duplicate`: huggingface_hub's `duplicate_repo`.

The copy keeps the source's history (its commits, with their ids), branches, tags, files and card. A space
also keeps its SDK and variables, and starts with the hardware, sleep time and secrets the body gives
(secrets are never copied).
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contracts.catalog import RepoUpdated, UpdatedRef
from services.catalog import spaces, store_files, store_spaces
from services.catalog.access import readable_repo, repo_type_of
from services.catalog.commits import MAX_EVENT_PATHS
from services.catalog.repo_admin import after_create, parse_repo_id
from services.catalog.repos import RepoRef, create_repo
from services.catalog.space_secrets import SECRETS_CIPHER
from services.catalog.space_views import SpaceSetupFields
from services.runtime.auth import require_principal
from services.runtime.http import json_response, parse_body
from services.runtime.keys import API, CONFIG, OUTBOX, POOL

REPO = "/api/{type:models|datasets|spaces}/{namespace}/{name}"


class DuplicateBody(SpaceSetupFields):
    model_config = ConfigDict(extra="ignore")  # resourceGroupId, storageTier, volumes: not part of this catalog
    repository: str = Field(description='"namespace/name" of the new repo.')
    private: bool | None = None
    visibility: Literal["public", "private", "protected"] | None = None


class Duplicated(BaseModel):
    url: str


async def duplicate_repo(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await parse_body(request, DuplicateBody, status=400)
    repo_type = repo_type_of(request)
    target = RepoRef(repo_type, *parse_repo_id(body.repository, "repository"))
    setup = body.setup() if repo_type == "space" else None  # the client sends these for spaces only
    source = await readable_repo(request)
    if setup is not None:
        setup.check(source["sdk"])
    base_url = request.app[CONFIG].http.url
    outbox = request.app[OUTBOX]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        private = body.visibility != "public" if body.visibility else body.private
        row = await create_repo(
            conn,
            outbox,
            principal,
            target,
            private=source["private"] if private is None else private,
            base_url=base_url,
        )
        await after_create(conn, row, sdk=source["sdk"])
        initial = {r["name"]: r["target"] for r in await store_spaces.branches(conn, row["id"])}
        await store_files.lock_repo(conn, source["id"])
        await store_spaces.copy_history(conn, source["id"], row["id"])
        copied = {r["name"]: r["target"] for r in await store_spaces.branches(conn, row["id"])}
        head = copied.get("main")
        paths = [f["path"] for f in await store_files.files(conn, row["id"], head)] if head else []
        await outbox.add(
            conn,
            RepoUpdated(
                repo_type=repo_type,  # type: ignore[arg-type]
                repo_id=target.repo_id,
                head_sha=head,
                updated_refs=[
                    UpdatedRef(ref=f"refs/heads/{branch}", old_sha=initial.get(branch), new_sha=sha)
                    for branch, sha in sorted(copied.items())
                ],
                changed_paths=sorted(paths)[:MAX_EVENT_PATHS],
                changed_paths_truncated=len(paths) > MAX_EVENT_PATHS,
            ),
        )
        if setup is not None:
            await spaces.set_up(conn, row, setup, request.app[SECRETS_CIPHER])
    return json_response({"url": target.url(base_url)})


def setup_duplicate_routes(app: web.Application) -> None:
    app[API].post(
        REPO + "/duplicate",
        duplicate_repo,
        body=DuplicateBody,
        ok=Duplicated,
        errors={
            400: "An invalid body or repository name (InvalidParameter, InvalidName).",
            403: "The caller may not create repos in the target namespace (Forbidden).",
            404: "No such repo, or one the caller may not see (RepoNotFound); or no such target namespace (NotFound).",
            409: "A repo of that type and name exists: the body's `url` names it (RepoExists).",
        },
        token="required",
        summary="Copy a repo (history, files, card; a space's variables, and the secrets given) to a new one",
    )
