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
    "InvalidParameter",  # a parameter or field out of its range: unknown sort key, bad limit, cursor, theme, too long
    # Files and history
    "RevisionNotFound",  # the Hub client maps these two to RevisionNotFoundError / EntryNotFoundError
    "EntryNotFound",
    "InvalidPath",  # absolute, '..', NUL, control characters, inside .git/
    "InvalidCommit",  # a malformed commit payload (NDJSON line, operation, missing header)
    "CommitConflict",  # parentCommit is not the head of the branch any more (412)
    "LfsObjectMissing",  # a commit names an LFS object never uploaded to this repo
    "ChecksumMismatch",  # uploaded bytes do not match the announced sha256 or size
    "RefExists",
    "InvalidRef",
    "RangeNotSatisfiable",
    "InvalidUploadUrl",  # an LFS upload URL that is forged, altered or expired
    "InvalidMetadata",  # a README's YAML front matter that does not parse (validate-yaml)
    "ParquetNotFound",  # the dataset (config, split, shard) has no parquet files
    # Collections, papers, spaces
    "CollectionNotFound",  # missing, or private and not the caller's
    "CollectionExists",  # the owner has a collection of that title (409; the body's `slug` names it)
    "CollectionItemNotFound",  # no item of that `_id` in the collection
    "CollectionItemExists",  # the collection already holds that repo, paper or collection
    "PaperNotFound",
    "StaticSpace",  # a static space is always "running": it cannot be paused or given hardware
    # Community and organizations
    "DiscussionNotFound",
    "MergeConflict",  # a pull request changes a file its target branch changed too since the PR started
    "ResourceGroupNotFound",
    "ResourceGroupExists",
    "NotOrgMember",  # a resource group's user must be a member of the group's organization
    # Mirrors
    "MirrorReadOnly",  # a write to a repo copied from an upstream Hub (403)
    "UpstreamUnavailable",  # a mirrored file (or older commit's tree) not here yet, and the upstream did not give it
]


def catalog_error(
    status: int, code: CatalogErrorCode, message: str, *, headers: dict[str, str] | None = None, **extra: object
) -> ApiError:
    return ApiError(status, code, message, headers=headers, extra=dict(extra))
