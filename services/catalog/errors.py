"""The catalog's error codes, sent as `X-Error-Code` (the Hub client keys on some of them)."""

from __future__ import annotations

from typing import Literal

from services.runtime.errors import ApiError, RuntimeErrorCode

# The runtime's codes (503 DatabaseUnavailable, 413 PayloadTooLarge, ...) and the catalog's own.
CatalogErrorCode = Literal[
    RuntimeErrorCode,
    "RepoNotFound",  # missing or not visible to the caller: the Hub never reveals private repos
    "RepoExists",
    "InvalidName",
    "GatedRepo",  # a gated repo's files, asked for by someone without access (the client raises GatedRepoError)
    "InvalidParameter",  # a query parameter out of its range: unknown sort key, bad limit, cursor or expand
]


def catalog_error(status: int, code: CatalogErrorCode, message: str, **extra: object) -> ApiError:
    return ApiError(status, code, message, extra=dict(extra))
