"""The versioning service's error codes (`X-Error-Code`, and `reason_code` of DatapointsDeltaRejected)."""

from __future__ import annotations

from typing import Literal

from services.runtime.errors import RuntimeErrorCode

# The runtime's codes (ValidationError, InvalidJson, Forbidden, 503 DatabaseUnavailable, ...) and the domain's
# own; a delta event's rejection carries the same codes. Public and stable: add new ones, never rename.
VersioningErrorCode = Literal[
    RuntimeErrorCode,
    "DatasetNotFound",
    "VersionNotFound",
    "EnvironmentNotFound",
    "NotDeployed",  # an environment named as the base has no version of the dataset
    "InvalidPath",
    "InvalidDatapoints",
    "InvalidCsv",
    "PathTaken",
    "VersionNameTaken",
    "AlreadyCommitted",
    "VersionDeleted",
    "VersionDeployed",
    "TooLarge",
    # Publish / import (catalog_sync.py): the catalog's 404, a tag on another commit, a file we cannot read,
    # the catalog refusing the call or not answering.
    "CatalogNotFound",
    "TagTaken",
    "InvalidImportFile",
    "CatalogRefused",
    "CatalogUnavailable",
]


class VersioningError(Exception):
    """A request (REST or event) the domain refuses: an HTTP status, a stable code, and a sentence."""

    def __init__(
        self,
        status: int,
        code: VersioningErrorCode,
        message: str,
        *,
        loc: list[str | int] | None = None,
        details: list[dict] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        if details is None and loc is not None:
            details = [{"loc": loc, "msg": message, "type": "value_error"}]
        self.details = details
