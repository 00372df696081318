"""The ingest service's error codes (`X-Error-Code`, and `error_code` on failed sources)."""

from __future__ import annotations

from typing import Literal

from services.runtime.errors import RuntimeErrorCode

# The runtime's codes (503 DatabaseUnavailable, 413 PayloadTooLarge, ...) and ingest's own.
IngestErrorCode = Literal[RuntimeErrorCode, "SourceNotFound", "InvalidDatasetUrl"]

# Why an indexing run failed; stored on the source and sent in IndexFailed.
FailureCode = Literal["DatasetNotFound", "ParquetUnavailable", "CatalogUnavailable", "CatalogError", "InternalError"]
