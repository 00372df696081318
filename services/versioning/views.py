"""Thin views for Humanloop's /v5 datasets API, and our additions in the same style."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import asyncpg
import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from services.runtime.auth import Principal, require_principal
from services.runtime.errors import ApiError, validation_error
from services.runtime.http import json_response, parse_body
from services.runtime.keys import OUTBOX, POOL
from services.runtime.limits import MiB, max_body
from services.versioning import datapoints, responses, store, uploads
from services.versioning import versions as domain
from services.versioning.errors import VersioningError
from services.versioning.models import (
    BaseQuery,
    CommitRequest,
    CsvUploadForm,
    DatapointsQuery,
    DatasetResponse,
    DeployQuery,
    DiffQuery,
    DiffResponse,
    EnvironmentMove,
    EnvironmentMovesResponse,
    ExportQuery,
    FileEnvironmentResponse,
    ListDatasets,
    ListDatasetsQuery,
    ListVersionsQuery,
    MoveRequest,
    PageQuery,
    PaginatedDatapointResponse,
    PaginatedDatasetResponse,
    RestoreRequest,
    UpdateVersionRequest,
    UpsertDatasetRequest,
    UpsertQuery,
    VersionQuery,
)
from services.versioning.responses import dump
from services.versioning.versions import Delta, apply_delta, check_path, lock_dataset, resolve, version_of

Q = TypeVar("Q", bound=BaseModel)
# An upsert or a CSV file carries up to 100,000 datapoints (datapoints.MAX_DATAPOINTS): 64 MiB is ~670 bytes
# each, room for chat messages; larger sets go in several `add` upserts or as events.
MAX_UPSERT_BODY = 64 * MiB
EXPORT_BATCH = 5000


@contextmanager
def domain_errors() -> Iterator[None]:
    """The domain's refusals as HTTP errors in Humanloop's shape."""
    try:
        yield
    except VersioningError as exc:
        raise ApiError(exc.status, exc.code, exc.message, details=exc.details if exc.status == 422 else None) from exc
    except datapoints.InvalidDatapoints as exc:
        raise ApiError(422, "InvalidDatapoints", f"invalid datapoints: {exc}", details=exc.details) from exc


def parse_query(request: web.Request, model: type[Q]) -> Q:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_error(exc, where="query") from exc


def writer(request: web.Request) -> Principal:
    principal = require_principal(request)
    if principal.role not in ("write", "admin"):
        raise ApiError(403, "Forbidden", f"user {principal.user} may read datasets but not change them (role read)")
    return principal


async def _dataset_or_404(conn: asyncpg.Connection | asyncpg.Pool, dataset_id: str) -> asyncpg.Record:
    row = await store.dataset(conn, dataset_id)
    if row is None:
        raise ApiError(404, "DatasetNotFound", f"no dataset with id {dataset_id!r}")
    return row


# Humanloop's datasets API ------------------------------------------------------------------------


@max_body(MAX_UPSERT_BODY)
async def upsert(request: web.Request) -> web.Response:
    principal = writer(request)
    query = parse_query(request, UpsertQuery)
    body = await parse_body(request, UpsertDatasetRequest)
    with domain_errors():
        delta = Delta(
            action=body.action or "set",
            datapoints=datapoints.canonicalise(body.datapoints),
            dataset_id=body.id,
            path=body.path,
            base_version_id=query.version_id,
            environment=query.environment,
            commit_message=body.commit_message,
            version_name=body.version_name,
            version_description=body.version_description,
            attributes=body.attributes,
            actor=principal.user,
        )
        answer = await _save(request, delta, include_datapoints=query.include_datapoints)
    return json_response(dump(answer))


async def _save(request: web.Request, delta: Delta, *, include_datapoints: bool = False) -> DatasetResponse:
    """Apply a delta from a request in one transaction (its event in the outbox); the version it gave."""
    async with request.app[POOL].acquire() as conn, conn.transaction():
        outcome = await apply_delta(conn, request.app[OUTBOX], delta)
        return await responses.dataset(
            conn, outcome.dataset, outcome.version, include_datapoints=include_datapoints, report=outcome.report
        )


async def get_dataset(request: web.Request) -> web.Response:
    require_principal(request)
    query = parse_query(request, VersionQuery)
    pool = request.app[POOL]
    ds, version = await _read_target(request, query.version_id, query.environment)
    with domain_errors():
        answer = await responses.dataset(pool, ds, version, include_datapoints=query.include_datapoints)
    return json_response(dump(answer))


async def _read_target(
    request: web.Request, version_id: str | None, environment: str | None
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """The dataset in the path and the version a read names (by id, by environment, else the default)."""
    pool = request.app[POOL]
    with domain_errors():
        ds = await _dataset_or_404(pool, request.match_info["id"])
        return ds, await _version(pool, ds, version_id, environment)


async def _version(
    conn: asyncpg.Connection | asyncpg.Pool, ds: asyncpg.Record, version_id: str | None, environment: str | None
) -> asyncpg.Record:
    version = await resolve(conn, ds, version_id=version_id, environment_ref=environment, default="deployed")
    if version is None:
        raise ApiError(404, "VersionNotFound", f"dataset {ds['id']} has no versions")
    return version


async def list_datasets(request: web.Request) -> web.Response:
    require_principal(request)
    query = parse_query(request, ListDatasetsQuery)
    pool = request.app[POOL]
    rows, total = await store.list_datasets(
        pool,
        name=query.name,
        user=query.user_filter,
        sort_by=query.sort_by,
        descending=query.order == "desc",
        limit=query.size,
        offset=(query.page - 1) * query.size,
    )
    records = []
    async with pool.acquire() as conn:
        for ds in rows:
            version = await resolve(conn, ds, version_id=None, environment_ref=None, default="deployed")
            if version is not None:
                records.append(await responses.dataset(conn, ds, version))
    return json_response(dump(PaginatedDatasetResponse(records=records, page=query.page, size=query.size, total=total)))


async def delete_dataset(request: web.Request) -> web.Response:
    writer(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        with domain_errors():
            ds = await lock_dataset(conn, request.match_info["id"])
        await store.delete_dataset(conn, ds["pk"])
    return web.Response(status=204)


async def move_dataset(request: web.Request) -> web.Response:
    writer(request)
    body = await parse_body(request, MoveRequest)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        with domain_errors():
            ds = await lock_dataset(conn, request.match_info["id"])
            path = body.path
            if path is None and body.name is not None:
                if "/" in body.name:  # a name is the path's last part: a '/' would move the dataset to a folder
                    raise VersioningError(
                        422,
                        "InvalidPath",
                        f"invalid dataset name {body.name!r}: a name may not contain '/'; to move the dataset "
                        "to another folder, give its new `path`",
                        loc=["body", "name"],
                    )
                folder = ds["path"].rpartition("/")[0]
                path = f"{folder}/{body.name}" if folder else body.name
            if path is not None and path != ds["path"]:
                check_path(path, ["body", "path" if body.path is not None else "name"])
                # The unique index on path decides, not a lock on the dataset there: two moves onto each other's
                # path, each holding its own dataset and waiting for the other's, deadlocked (a 500).
                taken = VersioningError(409, "PathTaken", f"another dataset already has the path {path!r}")
                if await store.dataset_id_at(conn, path) is not None:
                    raise taken
                try:
                    ds = await store.move_dataset(conn, ds["pk"], path)
                except asyncpg.UniqueViolationError:  # moved or created there since (the transaction rolls back)
                    raise taken from None
            version = await _version(conn, ds, None, None)
            answer = await responses.dataset(conn, ds, version)
    return json_response(dump(answer))


async def list_datapoints(request: web.Request) -> web.Response:
    require_principal(request)
    query = parse_query(request, DatapointsQuery)
    pool = request.app[POOL]
    _, version = await _read_target(request, query.version_id, query.environment)
    rows = await store.page(pool, version, limit=query.size, offset=(query.page - 1) * query.size)
    answer = PaginatedDatapointResponse(
        records=[responses.datapoint(r) for r in rows],
        page=query.page,
        size=query.size,
        total=version["datapoints_count"],
    )
    return json_response(dump(answer))


async def list_versions(request: web.Request) -> web.Response:
    require_principal(request)
    query = parse_query(request, ListVersionsQuery)
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        ds = await _dataset_or_404(conn, request.match_info["id"])
        deployments = await store.deployments(conn, ds["pk"])
        rows = [v for v in await store.versions(conn, ds["pk"]) if query.status in (None, v["status"])]
        # include_datapoints: the datapoints of the newest committed (saved) version only, as Humanloop does.
        with_points = next((v["pk"] for v in rows if v["status"] == "committed"), None)
        records = []
        with domain_errors():
            for v in rows:
                inline = query.include_datapoints is not None and v["pk"] == with_points
                records.append(await responses.dataset(conn, ds, v, include_datapoints=inline, deployments=deployments))
    return json_response(dump(ListDatasets(records=records)))


async def commit_version(request: web.Request) -> web.Response:
    principal = writer(request)
    body = await parse_body(request, CommitRequest)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        with domain_errors():
            ds = await lock_dataset(conn, request.match_info["id"])
            version = await domain.commit(
                conn, ds, request.match_info["version_id"], body.commit_message, principal.user
            )
            answer = await responses.dataset(conn, ds, version)
    return json_response(dump(answer))


async def update_version(request: web.Request) -> web.Response:
    writer(request)
    body = await parse_body(request, UpdateVersionRequest)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        with domain_errors():
            ds = await lock_dataset(conn, request.match_info["id"])
            version = await domain.rename(conn, ds, request.match_info["version_id"], body.name, body.description)
            answer = await responses.dataset(conn, ds, version)
    return json_response(dump(answer))


async def delete_version(request: web.Request) -> web.Response:
    writer(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        with domain_errors():
            ds = await lock_dataset(conn, request.match_info["id"])
            await domain.delete_version(conn, ds, request.match_info["version_id"])
    return web.Response(status=204)


@max_body(MAX_UPSERT_BODY)
async def upload_csv(request: web.Request) -> web.Response:
    principal = writer(request)
    query = parse_query(request, BaseQuery)
    with domain_errors():
        form = uploads.parse_multipart(request.headers.get("Content-Type", ""), await request.read())
        try:
            upload = CsvUploadForm.model_validate(uploads.form_fields(form))
        except ValidationError as exc:
            raise validation_error(exc) from exc
        rows = uploads.csv_datapoints(upload.file)
        delta = Delta(
            action="add",
            datapoints=datapoints.parse(rows, loc=("body", "file")),
            dataset_id=request.match_info["id"],
            base_version_id=query.version_id,
            environment=query.environment,
            commit_message=upload.commit_message,
            version_name=upload.version_name,
            version_description=upload.version_description,
            actor=principal.user,
        )
        answer = await _save(request, delta)
    return json_response(dump(answer))


async def set_deployment(request: web.Request) -> web.Response:
    principal = writer(request)
    query = parse_query(request, DeployQuery)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        with domain_errors():
            ds = await lock_dataset(conn, request.match_info["id"])
            version = await domain.deploy(
                conn, ds, request.match_info["environment_id"], query.version_id, principal.user
            )
            assert version is not None
            answer = await responses.dataset(conn, ds, version)
    return json_response(dump(answer))


async def remove_deployment(request: web.Request) -> web.Response:
    principal = writer(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        with domain_errors():
            ds = await lock_dataset(conn, request.match_info["id"])
            await domain.deploy(conn, ds, request.match_info["environment_id"], None, principal.user)
    return web.Response(status=204)


async def list_environments(request: web.Request) -> web.Response:
    require_principal(request)
    async with request.app[POOL].acquire() as conn:
        ds = await _dataset_or_404(conn, request.match_info["id"])
        deployments = {d["id"]: d["version"] for d in await store.deployments(conn, ds["pk"])}
        versions = {v["pk"]: v for v in await store.versions(conn, ds["pk"]) if v["pk"] in deployments.values()}
        answer = []
        for env in await store.environments(conn):
            version = versions.get(deployments.get(env["id"]))  # type: ignore[arg-type]
            file = await responses.dataset(conn, ds, version) if version is not None else None
            answer.append(FileEnvironmentResponse(**responses.environment(env).model_dump(), file=file))
    return json_response([dump(e) for e in answer])


# Beyond Humanloop ---------------------------------------------------------------------------------


async def diff_versions(request: web.Request) -> web.Response:
    require_principal(request)
    query = parse_query(request, DiffQuery)
    pool = request.app[POOL]
    with domain_errors():
        ds = await _dataset_or_404(pool, request.match_info["id"])
        old = await version_of(pool, ds, query.from_version_id)
        new = await version_of(pool, ds, query.to_version_id)
    window = {"limit": query.size, "offset": (query.page - 1) * query.size}
    added, added_count = await store.diff_page(pool, ds["pk"], new["seq"], old["seq"], **window)
    removed, removed_count = await store.diff_page(pool, ds["pk"], old["seq"], new["seq"], **window)
    answer = DiffResponse(
        from_version_id=old["id"],
        to_version_id=new["id"],
        added_count=added_count,
        removed_count=removed_count,
        added=[responses.datapoint(r) for r in added],
        removed=[responses.datapoint(r) for r in removed],
        page=query.page,
        size=query.size,
    )
    return json_response(dump(answer))


async def restore_version(request: web.Request) -> web.Response:
    principal = writer(request)
    body = await parse_body(request, RestoreRequest)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        with domain_errors():
            ds = await lock_dataset(conn, request.match_info["id"])
            old = await version_of(conn, ds, request.match_info["version_id"])
            # `set` to the old contents, written as a diff from the newest version: no datapoint is re-sent.
            delta = Delta(
                action="add",
                datapoints=[],
                dataset_id=ds["id"],
                base_version_id=old["id"],
                commit_message=body.commit_message,
                version_name=body.version_name,
                version_description=body.version_description,
                actor=principal.user,
                force_new=True,
            )
            outcome = await apply_delta(conn, request.app[OUTBOX], delta)
            answer = await responses.dataset(conn, outcome.dataset, outcome.version, report=outcome.report)
    return json_response(dump(answer))


async def environment_history(request: web.Request) -> web.Response:
    require_principal(request)
    query = parse_query(request, PageQuery)
    pool = request.app[POOL]
    ds = await _dataset_or_404(pool, request.match_info["id"])
    rows, total = await store.environment_moves(pool, ds["pk"], limit=query.size, offset=(query.page - 1) * query.size)
    records = [
        EnvironmentMove(
            environment=r["environment"],
            from_version_id=r["from_version"],
            to_version_id=r["to_version"],
            moved_by=r["moved_by"],
            moved_at=r["moved_at"],
        )
        for r in rows
    ]
    answer = EnvironmentMovesResponse(records=records, page=query.page, size=query.size, total=total)
    return json_response(answer.model_dump(mode="json"))


async def export_version(request: web.Request) -> web.StreamResponse:
    require_principal(request)
    query = parse_query(request, ExportQuery)
    pool = request.app[POOL]
    with domain_errors():
        ds = await _dataset_or_404(pool, request.match_info["id"])
        version = await version_of(pool, ds, request.match_info["version_id"])
    name = f"{ds['path'].replace('/', '__')}-{version['id']}.{query.format}"
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8" if query.format == "csv" else "application/x-ndjson",
            "Content-Disposition": f'attachment; filename="{name}"',
        }
    )
    await response.prepare(request)
    columns = await store.input_columns(pool, ds["pk"], version["seq"]) if query.format == "csv" else []
    if query.format == "csv":
        await response.write(_csv_line([*columns, "messages", "target"]))
    after = 0
    while True:
        rows = await store.batch_after(pool, ds["pk"], version["seq"], after=after, limit=EXPORT_BATCH)
        if not rows:
            break
        after = rows[-1]["pk"]
        chunk = bytearray()
        for r in rows:
            point = responses.datapoint(r)
            if query.format == "jsonl":
                chunk += orjson.dumps(point.model_dump(exclude_none=True)) + b"\n"
            else:
                inputs = point.inputs or {}
                json_cell = lambda v: orjson.dumps(v).decode() if v is not None else ""  # noqa: E731
                chunk += _csv_line(
                    [*(inputs.get(c, "") for c in columns), json_cell(point.messages), json_cell(point.target)]
                )
        await response.write(bytes(chunk))
    await response.write_eof()
    return response


def _csv_line(cells: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(cells)
    return out.getvalue().encode()
