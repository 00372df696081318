"""Stored rows as the API's response models."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from services.versioning import store
from services.versioning.errors import VersioningError
from services.versioning.models import (
    DatapointResponse,
    DatasetResponse,
    EnvironmentResponse,
    UpsertReport,
)
from services.versioning.versions import Report

MAX_INLINE_DATAPOINTS = 100_000  # include_datapoints beyond this: page with list_datapoints instead


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def datapoint(row: asyncpg.Record) -> DatapointResponse:
    return DatapointResponse(id=row["id"], **_json(row["content"]))


def environment(row: asyncpg.Record) -> EnvironmentResponse:
    return EnvironmentResponse(id=row["id"], created_at=row["created_at"], name=row["name"], tag=row["tag"])


def _user(name: str | None) -> dict[str, Any] | None:
    return {"id": name, "full_name": name} if name else None


async def dataset(
    conn: asyncpg.Connection | asyncpg.Pool,
    ds: asyncpg.Record,
    version: asyncpg.Record,
    *,
    include_datapoints: bool = False,
    report: Report | None = None,
    deployments: list[asyncpg.Record] | None = None,
) -> DatasetResponse:
    """A version of a dataset as Humanloop's DatasetResponse."""
    if deployments is None:
        deployments = await store.deployments(conn, ds["pk"])
    points = None
    if include_datapoints:
        if version["datapoints_count"] > MAX_INLINE_DATAPOINTS:
            raise VersioningError(
                400,
                "TooLarge",
                f"version {version['id']} has {version['datapoints_count']} datapoints, more than "
                f"{MAX_INLINE_DATAPOINTS} to include in one response; page through list_datapoints instead",
            )
        rows = await store.page(conn, version, limit=MAX_INLINE_DATAPOINTS, offset=0)
        points = [datapoint(r) for r in rows]
    return DatasetResponse(
        id=ds["id"],
        path=ds["path"],
        name=ds["path"].rsplit("/", 1)[-1],
        version_id=version["id"],
        environments=[environment(d) for d in deployments if d["version"] == version["pk"]],
        created_at=version["created_at"],
        updated_at=ds["updated_at"],
        created_by=_user(version["created_by"]),
        status=version["status"],
        commit_message=version["commit_message"],
        committed_at=version["committed_at"],
        committed_by=_user(version["committed_by"]),
        version_name=version["version_name"],
        version_description=version["version_description"],
        last_used_at=version["created_at"],
        datapoints_count=version["datapoints_count"],
        attributes=_json(version["attributes"]),
        datapoints=points,
        base_version_id=version["base_id"],
        added_count=version["added"],
        removed_count=version["removed"],
        report=UpsertReport(**report.__dict__) if report is not None else None,
    )


def dump(model: Any) -> Any:
    return model.model_dump(mode="json", exclude_none=True)
