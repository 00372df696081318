"""The versioning service's routes: Humanloop's /v5 datasets API, and our additions (README: Versioning API).

Each route is added through `app[API]` with the models its view parses and answers: Humanloop's shapes,
which both SDK generations parse. Every route needs a token (`X-API-KEY`, or a bearer header).
"""

from __future__ import annotations

from aiohttp import web

from services.runtime.keys import API
from services.versioning import views
from services.versioning.catalog_views import setup_catalog_routes
from services.versioning.models import (
    BaseQuery,
    CommitRequest,
    CsvUploadForm,
    DatapointsQuery,
    DatasetResponse,
    DeployQuery,
    DiffQuery,
    DiffResponse,
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

V5 = "/v5/datasets"
DATASET = V5 + "/{id}"
VERSION = DATASET + "/versions/{version_id}"
ENVIRONMENT = DATASET + "/environments/{environment_id}"

# What the statuses mean on these routes, with the X-Error-Code each comes with (services/versioning/errors.py).
READ_ONLY = "The token's user may read datasets but not change them (Forbidden)."
NO_DATASET = "No dataset with that id (DatasetNotFound)."
NO_VERSION = "No dataset with that id, or no such version of it (DatasetNotFound, VersionNotFound)."
NO_BASE = (
    "The dataset, the base version or environment named does not exist, or nothing is deployed to that "
    "environment (DatasetNotFound, VersionNotFound, EnvironmentNotFound, NotDeployed)."
)
TOO_LARGE = "include_datapoints on a version of more than 100,000 datapoints: page with list_datapoints (TooLarge)."
INVALID = "The body or query does not validate (ValidationError, InvalidJson)."
SAVING_CLASH = (
    "Saving clashes with a version: its name is taken, or it would commit or name a version that is "
    "committed or deleted already (VersionNameTaken, AlreadyCommitted, VersionDeleted)."
)


def setup_routes(app: web.Application) -> None:
    api = app[API]
    # Humanloop's datasets API.
    api.post(
        V5,
        views.upsert,
        query=UpsertQuery,
        body=UpsertDatasetRequest,
        ok=DatasetResponse,
        errors={
            400: TOO_LARGE,
            403: READ_ONLY,
            404: NO_BASE,
            409: SAVING_CLASH,
            422: INVALID[:-1] + ", or a datapoint or the path is not valid (InvalidDatapoints, InvalidPath).",
        },
        summary="Upsert a dataset: set, add or remove datapoints on a base version",
    )
    api.get(V5, views.list_datasets, query=ListDatasetsQuery, ok=PaginatedDatasetResponse, summary="List datasets")
    api.get(
        DATASET,
        views.get_dataset,
        query=VersionQuery,
        ok=DatasetResponse,
        errors={400: TOO_LARGE, 404: NO_BASE},
        summary="A version of a dataset (default: the one deployed to production, else the newest)",
    )
    api.delete(
        DATASET,
        views.delete_dataset,
        ok=None,
        status=204,
        errors={403: READ_ONLY, 404: NO_DATASET},
        summary="Delete a dataset with every version",
    )
    api.patch(
        DATASET,
        views.move_dataset,
        body=MoveRequest,
        ok=DatasetResponse,
        errors={
            403: READ_ONLY,
            404: NO_DATASET,
            409: "Another dataset has that path (PathTaken).",
            422: INVALID[:-1] + ", or the new path is not valid (InvalidPath).",
        },
        summary="Move or rename a dataset",
    )
    api.get(
        DATASET + "/datapoints",
        views.list_datapoints,
        query=DatapointsQuery,
        ok=PaginatedDatapointResponse,
        errors={404: NO_BASE},
        summary="A page of a version's datapoints (1-based; past the end, no records)",
    )
    api.post(
        DATASET + "/datapoints/csv",
        views.upload_csv,
        query=BaseQuery,
        body=CsvUploadForm,
        body_media_type="multipart/form-data",
        ok=DatasetResponse,
        errors={
            403: READ_ONLY,
            404: NO_BASE,
            409: SAVING_CLASH,
            422: "Not a multipart form with a UTF-8 CSV `file` (InvalidCsv), or its rows are not valid datapoints "
            "(InvalidDatapoints), or the query does not validate (ValidationError).",
        },
        summary="Add the rows of a CSV file to a version",
    )
    api.get(
        DATASET + "/versions",
        views.list_versions,
        query=ListVersionsQuery,
        ok=ListDatasets,
        errors={400: TOO_LARGE, 404: NO_DATASET},
        summary="Every version of a dataset, newest first",
    )
    api.post(
        VERSION + "/commit",
        views.commit_version,
        body=CommitRequest,
        ok=DatasetResponse,
        errors={
            403: READ_ONLY,
            404: NO_VERSION,
            409: "The version is committed or deleted already (AlreadyCommitted, VersionDeleted).",
        },
        summary="Commit a version (0.8.x's commit model)",
    )
    api.patch(
        VERSION,
        views.update_version,
        body=UpdateVersionRequest,
        ok=DatasetResponse,
        errors={
            403: READ_ONLY,
            404: NO_VERSION,
            409: "Another version of the dataset has that name (VersionNameTaken).",
        },
        summary="Name or describe a version (0.8.38's named versions)",
    )
    api.delete(
        VERSION,
        views.delete_version,
        ok=None,
        status=204,
        errors={403: READ_ONLY, 404: NO_VERSION, 409: "The version is deployed to an environment (VersionDeployed)."},
        summary="Soft-delete a version",
    )
    api.get(
        DATASET + "/environments",
        views.list_environments,
        ok=list[FileEnvironmentResponse],
        errors={404: NO_DATASET},
        summary="Every environment, with the version of the dataset deployed there",
    )
    api.post(
        ENVIRONMENT,
        views.set_deployment,
        query=DeployQuery,
        ok=DatasetResponse,
        errors={
            403: READ_ONLY,
            404: "No such dataset, version or environment (DatasetNotFound, VersionNotFound, EnvironmentNotFound).",
            409: "The version is deleted (VersionDeleted).",
        },
        summary="Deploy a version to an environment",
    )
    api.delete(
        ENVIRONMENT,
        views.remove_deployment,
        ok=None,
        status=204,
        errors={403: READ_ONLY, 404: "No such dataset or environment (DatasetNotFound, EnvironmentNotFound)."},
        summary="Undeploy the dataset from an environment",
    )
    # Ours, in the same style.
    api.get(
        DATASET + "/versions/diff",
        views.diff_versions,
        query=DiffQuery,
        ok=DiffResponse,
        errors={404: NO_VERSION},
        summary="What changed between two versions, paged",
    )
    api.post(
        VERSION + "/restore",
        views.restore_version,
        body=RestoreRequest,
        ok=DatasetResponse,
        errors={403: READ_ONLY, 404: NO_VERSION, 409: SAVING_CLASH},
        summary="Make an old version's contents the newest version",
    )
    api.get(
        VERSION + "/export",
        views.export_version,
        query=ExportQuery,
        ok=str,
        media_type=("application/x-ndjson", "text/csv"),
        errors={404: NO_VERSION},
        summary="A version as JSON lines or CSV, streamed",
    )
    api.get(
        DATASET + "/environments/history",
        views.environment_history,
        query=PageQuery,
        ok=EnvironmentMovesResponse,
        errors={404: NO_DATASET},
        summary="Every environment move of a dataset, newest first",
    )
    setup_catalog_routes(app)  # publish to / import from catalog repos
