"""The ingest service's error codes (`X-Error-Code`, and `error_code` on failed sources)."""

from __future__ import annotations

from typing import Literal

from services.runtime.errors import RuntimeErrorCode

# The runtime's codes (503 DatabaseUnavailable, 413 PayloadTooLarge, ...) and ingest's own.
IngestErrorCode = Literal[
    RuntimeErrorCode,
    "SourceNotFound",
    "InvalidDatasetUrl",
    "SourceNotIndexed",  # read or grep before anything is indexed
    "InvalidPattern",  # grep's regular expression does not compile
    "Forbidden",  # deleting or cancelling a shared source someone else asked for
    "NothingToCancel",  # cancel when no run is live
]

# Why an indexing run failed; stored on the source and sent in IndexFailed.
FailureCode = Literal[
    "DatasetNotFound",
    "ConfigNotFound",
    "ParquetUnavailable",
    "ShardUnreadable",  # corrupt, truncated, not parquet, or columns unlike the other shards'
    "CatalogUnavailable",
    "CatalogError",
    "Cancelled",  # by an operator (`hubstream ingest cancel`, POST .../cancel)
    "InternalError",
]
