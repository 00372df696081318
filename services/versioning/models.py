"""Request and response models of the /v5 datasets API (Humanloop's shapes, plus our additions).

Requests ignore fields they do not know and treat `null` as absent, as Humanloop's server does; the
SDK sends `null` for arguments passed as None. Responses carry both SDK generations' fields (the
0.8.x commit model's `status`/`commit_message` and 0.8.38's `version_name`/`version_description`);
the SDK's lenient parser ignores what it does not know.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.versioning.datapoints import DatapointIn

_REQUEST = ConfigDict(extra="ignore")
MAX_PAGE = 1_000_000_000


# Requests --------------------------------------------------------------------------------------


class NewVersionFields(BaseModel):
    """How a change names and describes the version it makes: the same limits for an upsert, a CSV upload and a
    delta that arrives as an event (services/versioning/deltas.py)."""

    model_config = _REQUEST

    commit_message: str | None = Field(default=None, max_length=10_000, description="0.8.x: commits the version.")
    version_name: str | None = Field(default=None, min_length=1, max_length=255, description="0.8.38: unique name.")
    version_description: str | None = Field(default=None, max_length=10_000)


class UpsertDatasetRequest(NewVersionFields):
    datapoints: list[DatapointIn] = Field(description="Datapoints to set, add or remove (may be empty).")
    path: str | None = Field(default=None, description='Full path, e.g. "folder/name"; a new path creates it.')
    id: str | None = Field(default=None, description="An existing dataset's ds_ id; wins over `path`.")
    action: Literal["set", "add", "remove"] | None = Field(default=None, description="Default (and null): set.")
    attributes: dict[str, Any] | None = None


class CsvUploadForm(NewVersionFields):
    """The multipart/form-data body of a CSV upload (documentation: the view reads the form itself,
    including the header without a boundary that SDK 0.8.38 sends; see uploads.py)."""

    file: bytes = Field(
        description="A UTF-8 CSV file with a header row: each column is an input, except `messages` and `target`, "
        "whose cells are JSON."
    )


class UpsertQuery(BaseModel):
    model_config = _REQUEST

    version_id: str | None = Field(default=None, description="Base version for add/remove.")
    environment: str | None = Field(default=None, description="Base: the version deployed here.")
    include_datapoints: bool = False


class BaseQuery(BaseModel):
    """The version a call starts from: by id, or the one deployed to an environment."""

    model_config = _REQUEST

    version_id: str | None = None
    environment: str | None = None


class VersionQuery(BaseQuery):
    include_datapoints: bool = False


class PageQuery(BaseModel):
    model_config = _REQUEST

    # Bounded so that the row offset, (page - 1) * size, stays a PostgreSQL bigint (a larger page was a 400
    # from the database, found by the fuzzing); no version holds 10^13 datapoints.
    page: int = Field(default=1, ge=1, le=MAX_PAGE, description="1-based; past the end gives an empty page.")
    size: int = Field(default=10, ge=1, le=10_000)


class DatapointsQuery(PageQuery):
    version_id: str | None = None
    environment: str | None = None


class ListDatasetsQuery(PageQuery):
    name: str | None = Field(default=None, description="Case-insensitive substring of the path.")
    user_filter: str | None = Field(default=None, description="Only datasets created by this user.")
    sort_by: Literal["created_at", "updated_at", "name"] = "created_at"
    order: Literal["asc", "desc"] = "desc"


class ListVersionsQuery(BaseModel):
    model_config = _REQUEST

    status: Literal["uncommitted", "committed", "deleted"] | None = None
    include_datapoints: Literal["latest_committed", "latest_saved"] | None = None


class MoveRequest(BaseModel):
    model_config = _REQUEST

    path: str | None = None
    name: str | None = None


class CommitRequest(BaseModel):
    model_config = _REQUEST

    commit_message: str = Field(max_length=10_000)


class UpdateVersionRequest(BaseModel):
    model_config = _REQUEST

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)


class DeployQuery(BaseModel):
    model_config = _REQUEST

    version_id: str


class RestoreRequest(BaseModel):
    """Ours: make an old version's contents the newest version."""

    model_config = _REQUEST

    commit_message: str | None = Field(default=None, max_length=10_000)
    version_name: str | None = Field(default=None, min_length=1, max_length=255)
    version_description: str | None = Field(default=None, max_length=10_000)


class DiffQuery(PageQuery):
    """Ours: what changed from one version to another."""

    from_version_id: str
    to_version_id: str


class ExportQuery(BaseModel):
    model_config = _REQUEST

    format: Literal["jsonl", "csv"] = "jsonl"


# Responses -------------------------------------------------------------------------------------


class DatapointResponse(BaseModel):
    id: str
    inputs: dict[str, str] | None = None
    messages: list[dict[str, Any]] | None = None
    target: dict[str, Any] | None = None


class EnvironmentResponse(BaseModel):
    id: str
    created_at: datetime
    name: str
    tag: Literal["default", "other"]


class UpsertReport(BaseModel):
    """Ours: what an upsert did against its base."""

    added: int
    removed: int
    duplicates_ignored: int = Field(description="Repeated in the request, or (add) already in the base.")
    not_found: int = Field(description="remove: datapoints that were not in the base.")
    noop: bool = Field(description="The result was an existing version; nothing was created.")


class DatasetResponse(BaseModel):
    id: str
    path: str
    name: str
    version_id: str
    type: Literal["dataset"] = "dataset"
    directory_id: str | None = None
    environments: list[EnvironmentResponse]
    created_at: datetime
    updated_at: datetime
    created_by: dict[str, Any] | None = None
    status: Literal["uncommitted", "committed", "deleted"]
    commit_message: str | None = None
    committed_at: datetime | None = None
    committed_by: dict[str, Any] | None = None
    version_name: str | None = None
    version_description: str | None = None
    last_used_at: datetime
    datapoints_count: int
    attributes: dict[str, Any]
    datapoints: list[DatapointResponse] | None = None
    base_version_id: str | None = Field(default=None, description="Ours: the version this one was derived from.")
    added_count: int | None = Field(default=None, description="Ours: datapoints added against the base.")
    removed_count: int | None = Field(default=None, description="Ours: datapoints removed against the base.")
    report: UpsertReport | None = Field(default=None, description="Ours, on upsert responses.")


class PaginatedDatapointResponse(BaseModel):
    records: list[DatapointResponse]
    page: int
    size: int
    total: int


class PaginatedDatasetResponse(BaseModel):
    records: list[DatasetResponse]
    page: int
    size: int
    total: int


class ListDatasets(BaseModel):
    records: list[DatasetResponse]


class FileEnvironmentResponse(EnvironmentResponse):
    file: DatasetResponse | None = None


class DiffResponse(BaseModel):
    from_version_id: str
    to_version_id: str
    added_count: int
    removed_count: int
    added: list[DatapointResponse] = Field(description="This page of the datapoints in `to` but not `from`.")
    removed: list[DatapointResponse] = Field(description="This page of the datapoints in `from` but not `to`.")
    page: int
    size: int


class EnvironmentMove(BaseModel):
    environment: str
    from_version_id: str | None
    to_version_id: str | None
    moved_by: str | None
    moved_at: datetime


class EnvironmentMovesResponse(BaseModel):
    records: list[EnvironmentMove]
    page: int
    size: int
    total: int
