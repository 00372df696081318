"""The JSON bodies of the catalog's files and history routes, as the Hub's clients read them (for the OpenAPI
document; the schemathesis run checks every answer against them). Repo-level bodies are in responses.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.catalog.responses import absent

Sha = str  # a commit id: 40 lowercase hex digits


class Empty(BaseModel):
    """`{}`: what the Hub answers to branch and tag changes."""


class PreuploadFile(BaseModel):
    path: str
    uploadMode: Literal["lfs", "regular"] = Field(description="How to send it: through LFS, or inline in the commit.")
    shouldIgnore: bool = Field(description="True when the commit's (or the revision's) .gitignore ignores it.")
    oid: str | None = Field(description="Its current oid at the revision (sha256 for LFS files, else git blob id).")


class Preupload(BaseModel):
    files: list[PreuploadFile]
    commitOid: Sha = Field(description="The revision's commit.")


class CommitDone(BaseModel):
    success: bool
    commitOid: Sha
    commitUrl: str
    pullRequestUrl: str = absent("With create_pr: the pull request's URL.")


class LfsUploadAction(BaseModel):
    href: str = Field(description="A signed URL to PUT the bytes to, without an Authorization header.")
    header: dict[str, str]


class LfsActions(BaseModel):
    upload: LfsUploadAction


class LfsObjectError(BaseModel):
    code: int
    message: str


class LfsObject(BaseModel):
    """An object of the batch: nothing to do (held already), an upload action, or an error."""

    oid: str = Field(description="sha256, 64 lowercase hex digits.")
    size: int
    authenticated: bool = absent()
    actions: LfsActions = absent("Present when the object must be uploaded.")
    error: LfsObjectError = absent("Present when the object cannot be accepted (e.g. held with another size).")


class LfsBatch(BaseModel):
    """The git-lfs batch answer (`application/vnd.git-lfs+json`)."""

    transfer: Literal["basic"]
    objects: list[LfsObject]


class YamlMessage(BaseModel):
    message: str


class YamlCheck(BaseModel):
    errors: list[YamlMessage]
    warnings: list[YamlMessage]


class LfsPointerInfo(BaseModel):
    oid: str = Field(description="The file's sha256.")
    size: int
    pointerSize: int


class LastCommit(BaseModel):
    id: Sha
    title: str
    date: str | None = Field(description="ISO 8601, UTC, ending in Z.")


class TreeEntry(BaseModel):
    """A file or folder of a revision (tree listings, paths-info)."""

    type: Literal["file", "directory"]
    oid: str = Field(description="Git blob id of a file (of its LFS pointer for LFS files), tree id of a folder.")
    path: str
    size: int = absent("Files: the size in bytes.")
    lfs: LfsPointerInfo = absent("Files stored with LFS.")
    lastCommit: LastCommit = absent("With expand: the commit that last changed it.")


class GitRef(BaseModel):
    name: str
    ref: str = Field(description="The full ref: refs/heads/..., refs/tags/..., refs/convert/..., refs/pr/...")
    targetCommit: Sha


class Refs(BaseModel):
    branches: list[GitRef]
    converts: list[GitRef]
    tags: list[GitRef]
    pullRequests: list[GitRef] = absent("With include_prs=true.")


class CommitAuthor(BaseModel):
    user: str


class FormattedCommit(BaseModel):
    title: str = Field(description="HTML.")
    message: str = Field(description="HTML; empty for an empty message.")


class CommitEntry(BaseModel):
    id: Sha
    authors: list[CommitAuthor]
    date: str | None = Field(description="ISO 8601, UTC, ending in Z.")
    title: str
    message: str
    formatted: FormattedCommit = absent("With expand[]=formatted.")


class Squashed(BaseModel):
    commitId: Sha = Field(description="The one commit the branch now holds.")


ParquetConfigs = dict[str, dict[str, list[str]]]
"""config -> split -> the URLs of its parquet shards."""
ParquetSplits = dict[str, list[str]]
"""split -> the URLs of its parquet shards."""
