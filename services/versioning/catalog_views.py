"""Routes that move versions to and from catalog dataset repos (services/versioning/catalog_sync.py).

`POST /v5/datasets/{id}/publish` and `POST /v5/datasets/import`: the catalog is called over its own
Hub API with the versioning service account's token (services/runtime/service_accounts.py; or
HUBSTREAM_VERSIONING_CATALOG_TOKEN), after the catalog has said, asked with the caller's own token, that
the caller may write (publish) or read (import) the repo.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Literal

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.runtime.auth import api_key_token
from services.runtime.http import json_response, parse_body
from services.runtime.keys import API, CONFIG, OUTBOX, POOL
from services.runtime.service_accounts import VERSIONING, read_token
from services.versioning import catalog_sync, responses, store
from services.versioning.catalog_client import CatalogClient
from services.versioning.errors import VersioningError
from services.versioning.models import DatasetResponse
from services.versioning.responses import dump
from services.versioning.settings import CatalogSettings
from services.versioning.versions import Delta, apply_delta, check_path, resolve
from services.versioning.views import _dataset_or_404, domain_errors, writer

CATALOG = web.AppKey("versioning_catalog", CatalogClient)
REPO_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$"
_REQUEST = ConfigDict(extra="ignore")


class PublishRequest(BaseModel):
    model_config = _REQUEST

    repo_id: str = Field(pattern=REPO_ID, max_length=200, description="The catalog dataset repo, `owner/name`.")
    version_id: str | None = Field(
        default=None, description="Default: the version deployed to production, else the newest."
    )
    environment: str | None = Field(default=None, description="Publish the version deployed to this environment.")
    tag: str | None = Field(
        default=None, min_length=1, max_length=255, description="Default: the version's name, else its id."
    )


class PublishResponse(BaseModel):
    dataset_id: str
    version_id: str
    repo_id: str
    tag: str = Field(description="`datasets.load_dataset(repo_id, revision=tag)` reads exactly this version.")
    commit_sha: str
    created: bool = Field(description="False when the version was published there before; nothing changed.")
    datapoints_count: int


class ImportRequest(BaseModel):
    model_config = _REQUEST

    repo_id: str = Field(pattern=REPO_ID, max_length=200, description="The catalog dataset repo, `owner/name`.")
    file: str = Field(min_length=1, max_length=1000, description="A .jsonl or .parquet file of the repo.")
    revision: str = Field(default="main", min_length=1, max_length=255)
    path: str | None = Field(default=None, description="The dataset to import into; a new path creates it.")
    id: str | None = Field(default=None, description="An existing dataset's ds_ id; wins over `path`.")
    action: Literal["set", "add"] = Field(default="set", description="set: the file is the new version's contents.")
    commit_message: str | None = Field(default=None, max_length=10_000)
    version_name: str | None = Field(default=None, min_length=1, max_length=255)
    version_description: str | None = Field(default=None, max_length=10_000)


async def catalog_client_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = CatalogSettings()
    home = app[CONFIG].infra.home
    given = settings.catalog_token.get_secret_value() if settings.catalog_token else None
    token: Callable[[], str | None] = (lambda: given) if given else partial(read_token, home, VERSIONING)
    timeout = aiohttp.ClientTimeout(total=settings.catalog_timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        url = settings.catalog_url or app[CONFIG].infra.catalog_url
        app[CATALOG] = CatalogClient(session, url, token, settings.max_import_bytes)
        yield


def caller_token(request: web.Request) -> str:
    """The caller's own token (authentication already required it): the catalog judges what it may do."""
    token = api_key_token(request)
    if token is None:  # not reached: `writer` answers 401 first
        raise VersioningError(401, "Unauthorized", "a token is required")
    return token


async def publish(request: web.Request) -> web.Response:
    writer(request)
    body = await parse_body(request, PublishRequest)
    pool = request.app[POOL]
    with domain_errors():
        ds = await _dataset_or_404(pool, request.match_info["id"])
        version = await resolve(
            pool, ds, version_id=body.version_id, environment_ref=body.environment, default="deployed"
        )
        if version is None:
            raise VersioningError(404, "VersionNotFound", f"dataset {ds['id']} has no version to publish")
        tag = body.tag or version["version_name"] or version["id"]
        await request.app[CATALOG].check_caller(caller_token(request), body.repo_id, write=True)
        done = await catalog_sync.publish(pool, request.app[CATALOG], ds, version, body.repo_id, tag)
    answer = PublishResponse(
        dataset_id=ds["id"],
        version_id=version["id"],
        repo_id=done.repo_id,
        tag=done.tag,
        commit_sha=done.commit,
        created=done.created,
        datapoints_count=version["datapoints_count"],
    )
    return json_response(dump(answer))


async def import_file(request: web.Request) -> web.Response:
    principal = writer(request)
    body = await parse_body(request, ImportRequest)
    with domain_errors():
        if body.id is None:
            check_path(body.path or "", ["body", "path"])
        await request.app[CATALOG].check_caller(caller_token(request), body.repo_id, write=False)
        raw = await request.app[CATALOG].download(body.repo_id, body.revision, body.file)
        sha256 = catalog_sync.file_sha256(raw)
        points = catalog_sync.parse_file(body.file, raw)
        async with request.app[POOL].acquire() as conn, conn.transaction():
            ds = await (
                store.lock_dataset_by_id(conn, body.id) if body.id else store.lock_dataset_by_path(conn, body.path)
            )
            if ds is not None and (before := await store.version_imported_from(conn, ds["pk"], sha256)) is not None:
                return json_response(dump(await responses.dataset(conn, ds, before)))  # a retry: already imported
            source = {"repo_id": body.repo_id, "revision": body.revision, "file": body.file, "sha256": sha256}
            delta = Delta(
                action=body.action,
                datapoints=points,
                dataset_id=body.id,
                path=body.path,
                commit_message=body.commit_message,
                version_name=body.version_name,
                version_description=body.version_description,
                attributes={"imported_from": source},
                actor=principal.user,
            )
            outcome = await apply_delta(conn, request.app[OUTBOX], delta)
            answer = await responses.dataset(conn, outcome.dataset, outcome.version, report=outcome.report)
    return json_response(dump(answer))


CATALOG_DOWN = (
    "The catalog refused versioning's token (CatalogRefused: its answer is quoted), failed or did not answer, or "
    "versioning has no catalog token (CatalogUnavailable)."
)


def setup_catalog_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(catalog_client_ctx)
    api = app[API]
    api.post(
        "/v5/datasets/{id}/publish",
        publish,
        body=PublishRequest,
        ok=PublishResponse,
        errors={
            400: "The version is too large to publish as one inline parquet file (TooLarge).",
            403: "The token's user may read datasets but not change them (Forbidden).",
            404: "No such dataset or version, nothing deployed to that environment (DatasetNotFound, VersionNotFound, "
            "EnvironmentNotFound, NotDeployed), or no such catalog repo (CatalogNotFound).",
            409: "The repo has that tag on a commit that is not this version's (TagTaken).",
            422: "The body does not validate (ValidationError, InvalidJson), or the catalog calls the tag invalid "
            "(CatalogRefused).",
            502: CATALOG_DOWN,
        },
        summary="Publish a version to a catalog dataset repo: a parquet commit, tagged with the version's name",
    )
    api.post(
        "/v5/datasets/import",
        import_file,
        body=ImportRequest,
        ok=DatasetResponse,
        errors={
            400: "The file has more rows or bytes than an import takes (TooLarge).",
            403: "The token's user may read datasets but not change them (Forbidden).",
            404: "No such dataset, or no such catalog repo, revision or file (DatasetNotFound, CatalogNotFound).",
            409: "Saving clashes with a version: its name is taken, or it would commit a committed version "
            "(VersionNameTaken, AlreadyCommitted).",
            422: "The body does not validate (ValidationError, InvalidJson, InvalidPath), the file is not JSONL or "
            "parquet with inputs/messages/target (InvalidImportFile), its rows are not valid datapoints "
            "(InvalidDatapoints), or the catalog calls the revision or file name invalid (CatalogRefused).",
            502: CATALOG_DOWN,
        },
        summary="Import a JSONL or parquet file of a catalog dataset repo as a new version",
    )
