"""Repos: creation and visibility. Files, commits and refs are in commits.py."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import asyncpg

from contracts.catalog import RepoCreated
from services.catalog import commits, store
from services.catalog.errors import catalog_error
from services.catalog.names import name_problem
from services.runtime.auth import Principal
from services.runtime.outbox import Outbox

REPO_TYPES = ("model", "dataset", "space")
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


@dataclass(frozen=True)
class RepoRef:
    repo_type: str
    namespace: str
    name: str

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def url(self, base: str) -> str:
        return f"{base.rstrip('/')}/{URL_PREFIX[self.repo_type]}{self.repo_id}"


async def can_write_namespace(conn: asyncpg.Connection | asyncpg.Pool, principal: Principal, namespace: str) -> bool:
    if principal.role == "read":
        return False
    if principal.service_role == "write":
        return True  # a service account that writes (versioning) writes every namespace
    if namespace == principal.user:
        return True
    role = await store.member_role(conn, namespace, principal.user)
    return role in ("admin", "write")


async def can_read(conn: asyncpg.Connection | asyncpg.Pool, principal: Principal | None, repo: asyncpg.Record) -> bool:
    if not repo["private"]:
        return True
    if principal is None:
        return False
    if principal.service_role is not None:
        # A service account (ingest's) reads every repo; the service that holds it checks first that the
        # person it acts for may read the repo (ingest: POST /v2/huggingface-datasets with their token).
        return True
    if repo["namespace"] == principal.user:
        return True
    return await repo_role(conn, principal.user, repo) is not None


async def can_write_repo(conn: asyncpg.Connection | asyncpg.Pool, principal: Principal, repo: asyncpg.Record) -> bool:
    """Pushing to this repo: its namespace's rule, narrowed by the repo's resource group if it has one."""
    if principal.role == "read":
        return False
    if repo["namespace"] == principal.user:
        return True
    return await repo_role(conn, principal.user, repo) in ("admin", "write")


async def repo_role(conn: asyncpg.Connection | asyncpg.Pool, user: str, repo: asyncpg.Record) -> str | None:
    """The user's role on an org's repo: their org role; in a resource group, org admins keep theirs and the
    others hold only the group's role for them (a member of the group, or every member when it auto-joins)."""
    role = await store.member_role(conn, repo["namespace"], user)
    if role is None or role == "admin" or repo.get("resource_group") is None:
        return role
    return await store.resource_group_role(conn, repo["resource_group"], user)


def refuse_mirrored(repo: asyncpg.Record) -> None:
    """Copies of an upstream's repos change only by the mirror's syncs: any write is a 403."""
    if repo["mirror"] is not None:
        raise catalog_error(
            403,
            "MirrorReadOnly",
            f"{repo['namespace']}/{repo['name']} is a read-only copy from the mirror {repo['mirror']!r}: "
            "change it upstream, the next sync brings the change here",
        )


async def create_repo(
    conn: asyncpg.Connection,
    outbox: Outbox,
    principal: Principal,
    ref: RepoRef,
    *,
    private: bool,
    base_url: str,
) -> asyncpg.Record:
    for value, what in ((ref.namespace, "namespace"), (ref.name, "repo")):
        if (problem := name_problem(value, what)) is not None:
            raise catalog_error(400, "InvalidName", problem)
    if await store.account(conn, ref.namespace) is None:
        raise catalog_error(404, "NotFound", f"no user or organization named {ref.namespace!r}")
    if not await can_write_namespace(conn, principal, ref.namespace):
        raise catalog_error(
            403, "Forbidden", f"you ({principal.user}) cannot create repos in the namespace {ref.namespace!r}"
        )
    row = await store.insert_repo(
        conn,
        repo_id=secrets.token_hex(12),
        repo_type=ref.repo_type,
        namespace=ref.namespace,
        name=ref.name,
        private=private,
        author=principal.user,
    )
    if row is None:
        # The client reads `url` from the 409 body when exist_ok=True.
        raise catalog_error(409, "RepoExists", f"You already created this {ref.repo_type} repo", url=ref.url(base_url))
    head_sha = await commits.initial_commit(conn, row["id"], principal.user)
    await outbox.add(
        conn,
        RepoCreated(
            repo_type=ref.repo_type,  # type: ignore[arg-type]
            repo_id=ref.repo_id,
            private=private,
            author=principal.user,
            head_sha=head_sha,
        ),
    )
    return row
