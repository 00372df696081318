"""Repo administration: delete, move (the old name redirects), settings (visibility, gating), file access.

Who may do what, as on the Hub: anyone who can read a repo sees it; a user administers the repos of their own
namespace and of the organizations where their role is `admin`; a `read` token administers nothing. A repo the
caller may not see is answered as missing (404 RepoNotFound), never as forbidden.
"""

from __future__ import annotations

from typing import Literal

import asyncpg

from contracts.catalog import RepoDeleted, RepoMoved, RepoSettingsChanged
from services.catalog import store, store_listing
from services.catalog.errors import catalog_error
from services.catalog.names import name_problem
from services.catalog.repos import RepoRef, can_read, can_write_namespace, refuse_mirrored
from services.runtime.auth import Principal
from services.runtime.errors import ApiError
from services.runtime.outbox import Outbox

Gated = Literal[False, "auto", "manual"]
SPACE_SDKS = ("gradio", "streamlit", "docker", "static")
TYPE_WORDS = {"model": "model", "dataset": "dataset", "space": "space"}


def gated_value(stored: str) -> Gated:
    """The column's text as the Hub's JSON value: false, "auto" or "manual"."""
    return False if stored == "false" else stored  # type: ignore[return-value]


def parse_repo_id(repo_id: str, what: str = "repo id") -> tuple[str, str]:
    """`namespace/name`, both valid names; otherwise a 400 that says what is wrong."""
    namespace, slash, name = repo_id.partition("/")
    if not slash or "/" in name:
        raise catalog_error(400, "InvalidName", f"{what} {repo_id!r} is invalid: expected 'namespace/name'")
    for value, part in ((namespace, "namespace"), (name, "repo")):
        if (problem := name_problem(value, part)) is not None:
            raise catalog_error(400, "InvalidName", problem)
    return namespace, name


def not_found(ref: RepoRef) -> ApiError:
    return catalog_error(404, "RepoNotFound", f"Repository Not Found: {ref.repo_type} {ref.repo_id}.")


async def can_admin(conn: asyncpg.Connection | asyncpg.Pool, principal: Principal, namespace: str) -> bool:
    if principal.role == "read":
        return False
    if namespace == principal.user:
        return True
    return await store.member_role(conn, namespace, principal.user) == "admin"


async def _repo_to_administer(conn: asyncpg.Connection, principal: Principal, ref: RepoRef) -> asyncpg.Record:
    """The repo, locked for this transaction, if the caller administers it; else the Hub's error."""
    valid = name_problem(ref.namespace, "namespace") is None and name_problem(ref.name, "repo") is None
    row = await store_listing.repo_for_update(conn, ref.repo_type, ref.namespace, ref.name) if valid else None
    if row is None or not await can_read(conn, principal, row):
        raise not_found(ref)
    if not await can_admin(conn, principal, ref.namespace):
        raise catalog_error(
            403, "Forbidden", f"you ({principal.user}) are not an administrator of {ref.repo_type} {ref.repo_id}"
        )
    refuse_mirrored(row)
    return row


async def after_create(conn: asyncpg.Connection, row: asyncpg.Record, *, sdk: str | None) -> None:
    """Finish a new repo: a space's SDK (also its first tag), and its name taken back from any moved repo."""
    await store_listing.set_created_extras(conn, row["id"], sdk=sdk, tags=[sdk] if sdk else [])
    await store_listing.drop_redirect(conn, row["repo_type"], row["namespace"], row["name"])


async def delete_repo(conn: asyncpg.Connection, outbox: Outbox, principal: Principal, ref: RepoRef) -> None:
    row = await _repo_to_administer(conn, principal, ref)
    await store_listing.delete_repo(conn, row["id"])  # its redirects go with it (ON DELETE CASCADE)
    await outbox.add(conn, RepoDeleted(repo_type=ref.repo_type, repo_id=ref.repo_id))  # type: ignore[arg-type]


async def move_repo(
    conn: asyncpg.Connection, outbox: Outbox, principal: Principal, source: RepoRef, target: RepoRef
) -> asyncpg.Record:
    """Rename `source` to `target` (same type, possibly another namespace); the old name redirects."""
    row = await _repo_to_administer(conn, principal, source)
    if target.repo_id == source.repo_id:
        raise catalog_error(400, "InvalidName", f"{source.repo_type} {source.repo_id} already has that name")
    if await store.account(conn, target.namespace) is None:
        raise catalog_error(404, "NotFound", f"no user or organization named {target.namespace!r}")
    if not await can_write_namespace(conn, principal, target.namespace):
        raise catalog_error(
            403, "Forbidden", f"you ({principal.user}) cannot create repos in the namespace {target.namespace!r}"
        )
    moved = await store_listing.rename_repo(conn, row["id"], target.namespace, target.name)
    if moved is None:
        raise catalog_error(
            409,
            "RepoExists",
            f"A {TYPE_WORDS[target.repo_type]} repository called {target.repo_id} already exists",
        )
    await store_listing.drop_redirect(conn, target.repo_type, target.namespace, target.name)
    await store_listing.add_redirect(conn, source.repo_type, source.namespace, source.name, row["id"])
    await outbox.add(
        conn,
        RepoMoved(
            repo_type=source.repo_type,  # type: ignore[arg-type]
            repo_id=target.repo_id,
            from_repo_id=source.repo_id,
            private=moved["private"],
        ),
    )
    return moved


async def update_settings(
    conn: asyncpg.Connection,
    outbox: Outbox,
    principal: Principal,
    ref: RepoRef,
    *,
    private: bool | None,
    gated: Gated | None,
) -> asyncpg.Record:
    """Apply the settings given (None: unchanged); announce them when something actually changed."""
    row = await _repo_to_administer(conn, principal, ref)
    gated_text = None if gated is None else ("false" if gated is False else gated)
    changed: list[Literal["private", "gated"]] = []
    if private is not None and private != row["private"]:
        changed.append("private")
    if gated_text is not None and gated_text != row["gated"]:
        changed.append("gated")
    if not changed:
        return row
    updated = await store_listing.update_settings(conn, row["id"], private=private, gated=gated_text)
    await outbox.add(
        conn,
        RepoSettingsChanged(
            repo_type=ref.repo_type,  # type: ignore[arg-type]
            repo_id=ref.repo_id,
            private=updated["private"],
            gated=gated_value(updated["gated"]),
            changed=changed,
        ),
    )
    return updated


async def require_file_access(
    conn: asyncpg.Connection | asyncpg.Pool, principal: Principal | None, repo: asyncpg.Record, base_url: str
) -> None:
    """For file downloads: 404 if the repo is invisible; 401/403 GatedRepo if it is gated and the caller is
    neither its owner nor a member of its organization (access requests are not implemented yet)."""
    ref = RepoRef(repo["repo_type"], repo["namespace"], repo["name"])
    if not await can_read(conn, principal, repo):
        raise not_found(ref)
    if repo["gated"] == "false":
        return
    word = TYPE_WORDS[ref.repo_type]
    if principal is None:
        raise catalog_error(
            401,
            "GatedRepo",
            f"Access to {word} {ref.repo_id} is restricted. You must have access to it and be authenticated "
            "to access it. Please log in.",
        )
    if principal.user == ref.namespace or await store.member_role(conn, ref.namespace, principal.user) is not None:
        return
    raise catalog_error(
        403,
        "GatedRepo",
        f"Access to {word} {ref.repo_id} is restricted and you are not in the authorized list. "
        f"Visit {ref.url(base_url)} to ask for access.",
    )
