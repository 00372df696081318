"""Events the catalog publishes: repo lifecycle and identity (tokens).

Repo events follow the Hub webhooks' vocabulary (`repo` create/update/delete,
`updatedRefs`), so a webhook bridge can be a plain projection of the topic.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Event
from contracts.topics import CATALOG_IDENTITY, CATALOG_REPOS

RepoType = Literal["model", "dataset", "space"]


def repo_key(repo_type: str, repo_id: str) -> str:
    """The aggregate id of a repo: `datasets/owner/name` (types are plural, as in Hub URLs)."""
    return f"{repo_type}s/{repo_id}"


class _RepoEvent(Event):
    topic: ClassVar = CATALOG_REPOS

    repo_type: RepoType
    repo_id: str = Field(pattern=r"^[^/]+/[^/]+$", description='"owner/name"')

    def key(self) -> str:
        return repo_key(self.repo_type, self.repo_id)


class RepoCreated(_RepoEvent):
    event_type: ClassVar = "hubstream.catalog.repo.created.v1"

    private: bool
    author: str = Field(description="The user who created the repo.")
    head_sha: str | None = Field(default=None, description="Commit at the head of main, if any.")


class UpdatedRef(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    ref: str = Field(description='e.g. "refs/heads/main"')
    old_sha: str | None = Field(description="null when the ref was created")
    new_sha: str | None = Field(description="null when the ref was deleted")


class RepoUpdated(_RepoEvent):
    event_type: ClassVar = "hubstream.catalog.repo.updated.v1"

    head_sha: str | None = Field(description="Commit at the head of main after the change (40 lowercase hex).")
    updated_refs: list[UpdatedRef] = Field(
        default_factory=list, description="The refs the change moved, created or deleted, with their commit ids."
    )
    changed_paths: list[str] = Field(
        default_factory=list,
        description="Files the commit added, modified or deleted (empty for branch and tag changes).",
    )
    changed_paths_truncated: bool = Field(
        default=False,
        description="True when the commit changed more paths than one event carries: changed_paths then lists "
        "only the first ones (sorted) and a reader must compare the trees of old_sha and new_sha.",
    )


class RepoDeleted(_RepoEvent):
    event_type: ClassVar = "hubstream.catalog.repo.deleted.v1"


class RepoMoved(_RepoEvent):
    """A repo got a new name (`repo_id`); its old name now redirects to it.

    Keyed by the old name, so that it follows, in order, everything published under that name. Events after
    the move use the new name's key.
    """

    event_type: ClassVar = "hubstream.catalog.repo.moved.v1"

    from_repo_id: str = Field(pattern=r"^[^/]+/[^/]+$", description='The old "owner/name".')
    private: bool

    def key(self) -> str:
        return repo_key(self.repo_type, self.from_repo_id)


class RepoSettingsChanged(_RepoEvent):
    """Visibility or gating changed; both values are the ones now in force."""

    event_type: ClassVar = "hubstream.catalog.repo.settings_changed.v1"

    private: bool
    gated: Literal[False, "auto", "manual"] = Field(description="false, or how access requests are approved")
    changed: list[Literal["private", "gated"]] = Field(description="Which of the two this change set.")


class _TokenEvent(Event):
    topic: ClassVar = CATALOG_IDENTITY

    user: str
    token_id: str
    token_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the token, hex. The token itself never leaves the catalog.",
    )

    def key(self) -> str:
        return self.token_id


class TokenCreated(_TokenEvent):
    event_type: ClassVar = "hubstream.catalog.token.created.v1"

    role: Literal["read", "write", "admin"]
    display_name: str
    created_at: datetime


class TokenRevoked(_TokenEvent):
    event_type: ClassVar = "hubstream.catalog.token.revoked.v1"

    revoked_at: datetime
