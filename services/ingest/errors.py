"""The ingest service's error codes (`X-Error-Code`, and `error_code` on failed sources)."""

from __future__ import annotations

from typing import Literal

IngestErrorCode = Literal[
    "SourceNotFound",
    "InvalidDatasetUrl",
    "ValidationError",
    "InvalidJson",
    "InvalidInput",  # a value the database cannot store (the HTTP layer's backstop)
    "Unauthorized",
    "NotFound",
    "MethodNotAllowed",
    "SourceNotIndexed",  # read or grep before anything is indexed
    "InvalidPattern",  # grep's regular expression does not compile
    "Forbidden",  # deleting or cancelling a shared source someone else asked for
    "NothingToCancel",  # cancel when no run is live
    "InternalError",
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
