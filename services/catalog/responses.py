"""The JSON bodies the catalog's views answer, as the Hub's clients read them (for the OpenAPI document).

The views build plain dicts; these models say what they hold, and the
schemathesis run (tests/services/test_fuzz.py) checks every answer against
them, so a view and its model cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


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


class RepoInfo(BaseModel):
    """A repo as `HfApi.repo_info()` / `dataset_info()` read it."""

    object_id: str = Field(alias="_id", description="The repo's object id (24 hex digits).")
    id: str = Field(description="`namespace/name`.")
    author: str
    sha: str | None = Field(description="The head commit, once there is one.")
    private: bool
    gated: bool | Literal["auto", "manual"]
    disabled: bool
    downloads: int
    likes: int
    tags: list[str]
    createdAt: str | None
    lastModified: str | None
    siblings: list[dict[str, Any]] = Field(description="The repo's files (`rfilename`, ...).")
