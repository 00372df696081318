"""The JSON bodies the catalog's views answer, as the Hub's clients read them (for the OpenAPI document).

The views build plain dicts; these models say what they hold, and the
schemathesis run (tests/e2e/test_fuzz.py) checks every answer against
them, so a view and its model cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from services.catalog.repo_admin import Gated


class WhoAmIOrg(BaseModel):
    type: Literal["org"]
    id: str
    name: str
    fullname: str
    roleInOrg: Literal["admin", "write", "read"]


class AccessToken(BaseModel):
    displayName: str
    role: Literal["read", "write"]
    createdAt: str | None = Field(description="ISO 8601, UTC.")


class WhoAmIAuth(BaseModel):
    type: Literal["access_token"]
    accessToken: AccessToken


class WhoAmI(BaseModel):
    """The token's user, its organizations and the token itself (`HfApi.whoami()`)."""

    type: Literal["user"]
    id: str
    name: str
    fullname: str
    email: str | None
    emailVerified: bool
    isPro: bool
    canPay: bool
    orgs: list[WhoAmIOrg]
    auth: WhoAmIAuth


class CreatedRepo(BaseModel):
    url: str = Field(description="The repo's URL on this catalog.")
    name: str = Field(description="The repo id, `namespace/name`.")
    id: str = Field(description="The repo's object id (24 hex digits).")


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def absent(description: str | None = None, **constraints: Any) -> Any:
    """A property that may be left out (never null): not required, and no `default: null` in the schema."""
    return Field(default=None, description=description, json_schema_extra=_no_default, **constraints)


class LfsInfo(BaseModel):
    sha256: str = Field(description="The file's sha256 (64 hex digits).")
    size: int
    pointerSize: int = Field(description="The size of the LFS pointer file git stores in its place.")


class Sibling(BaseModel):
    """A file of the repo at the revision shown."""

    rfilename: str = Field(description="Its path in the repo.")
    size: int = absent("Its size in bytes (with `blobs=true`).")
    blobId: str = absent("Its git blob id (with `blobs=true`).")
    lfs: LfsInfo = absent("Its LFS object, for files stored with LFS (with `blobs=true`).")


class RepoInfo(BaseModel):
    """A repo as `HfApi.repo_info()` / `model_info()` / `dataset_info()` / `space_info()` and the listings read it.

    With `expand=`, only `_id`, `id` and the properties named are present; listings leave out `siblings`
    unless they are full ones, and `cardData` unless `full` or `cardData` is asked for.
    """

    object_id: str = Field(alias="_id", description="The repo's object id (24 hex digits).")
    id: str = Field(description="`namespace/name`.")
    modelId: str = absent("Models only: the id again, under the name 0.x clients read.")
    author: str = absent()
    sha: str | None = absent("The head commit of main (40 hex digits); null before the first commit.")
    private: bool = absent()
    gated: Gated = absent('false, or how access requests are approved: "auto" or "manual".')
    disabled: bool = absent()
    likes: int = absent()
    downloads: int = absent()
    downloadsAllTime: int = absent()
    trendingScore: int = absent("No trending score is computed here: always 0.")
    tags: list[str] = absent("The card's own tags and those derived from its fields (license:, language:, ...).")
    createdAt: str | None = absent("ISO 8601, UTC, ending in Z.")
    lastModified: str | None = absent("ISO 8601, UTC, ending in Z.")
    xetEnabled: bool = absent("Always false: uploads go over plain HTTP and LFS.")
    # The README's YAML front matter: whatever mapping its author wrote, as the Hub returns it.
    cardData: dict[str, Any] = absent("The README's YAML front matter, as JSON.")
    pipeline_tag: str = absent("Models: from the card.")
    library_name: str = absent("Models: from the card.")
    sdk: str = absent("Spaces: gradio, streamlit, docker or static (the card's own when it names one).")
    siblings: list[Sibling] = absent("The repo's files at the revision shown.")
    resourceGroup: dict[str, Any] | None = absent("An org's repo in a resource group: its id, name and numUsers.")


class DeletedRepo(BaseModel):
    deleted: str = Field(description="The repo id that was deleted.")


class MovedRepo(BaseModel):
    url: str = Field(description="The repo's URL under its new name.")
    name: str = Field(description="The new repo id, `namespace/name`.")


class RepoSettings(BaseModel):
    """The repo's settings after the change (0.x clients return this from `update_repo_visibility`)."""

    private: bool
    gated: Gated


class TagEntry(BaseModel):
    id: str = Field(description="The tag, as `filter=` takes it (e.g. `license:mit`).")
    label: str
    type: str = Field(description="The group it belongs to (pipeline_tag, library, language, license, ...).")
    subType: str = absent("For tasks: the field (nlp, cv, audio, tabular, multimodal).")


TagsByType = dict[str, list[TagEntry]]
"""The tags offered for filtering, by group."""
