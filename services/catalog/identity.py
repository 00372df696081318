"""Users, organizations and tokens: the catalog owns them.

Each change that other services must know about (a token created or revoked)
writes its event to the outbox in the same transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import asyncpg

from contracts.catalog import TokenCreated, TokenRevoked
from services.catalog import store
from services.catalog.names import name_problem
from services.runtime.auth import Principal, TokenResolver, new_token, token_sha256
from services.runtime.outbox import Outbox


class IdentityError(ValueError):
    """An operator or client asked for something that cannot be done; the message says why."""


class RevokedToken(IdentityError):
    """The token given was revoked."""


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    user: str
    token: str  # shown once, never stored
    role: str


_KIND_WORDS = {"user": "user", "org": "organization", "service": "service account"}
SERVICE_ROLES = ("read", "write")


async def _create_account(
    conn: asyncpg.Connection,
    name: str,
    kind: str,
    *,
    fullname: str,
    email: str | None,
    admin: bool,
    service_role: str | None = None,
) -> bool:
    """Create the account; False if it exists with this kind. Users, orgs and service accounts share one namespace."""
    if problem := name_problem(name, _KIND_WORDS[kind]):
        raise IdentityError(problem)
    if await store.insert_account(
        conn, name=name, kind=kind, fullname=fullname, email=email, is_admin=admin, service_role=service_role
    ):
        return True
    existing = await store.account(conn, name)
    if existing is not None and existing["kind"] != kind:
        raise IdentityError(f"{name!r} is already the name of a {_KIND_WORDS[existing['kind']]}")
    if existing is not None and existing["service_role"] != service_role:
        raise IdentityError(
            f"service account {name!r} exists with the {existing['service_role']} role, not {service_role}"
        )
    return False


async def create_user(
    conn: asyncpg.Connection, name: str, *, fullname: str = "", email: str | None = None, admin: bool = False
) -> bool:
    """Create a user; False if it already exists as a user. An organization of that name is an error."""
    return await _create_account(conn, name, "user", fullname=fullname, email=email, admin=admin)


async def create_org(conn: asyncpg.Connection, name: str, *, fullname: str = "") -> bool:
    """Create an organization; False if it already exists as one. A user of that name is an error."""
    return await _create_account(conn, name, "org", fullname=fullname, email=None, admin=False)


async def create_service_account(conn: asyncpg.Connection, name: str, role: str) -> bool:
    """Create a service account: an identity for one of hubstream's own services, holding `role` (read or
    write) over every repo, private ones included. False if it already exists with that role."""
    if role not in SERVICE_ROLES:
        raise IdentityError(f"a service account's role must be read or write, not {role!r}")
    return await _create_account(
        conn, name, "service", fullname=f"hubstream service ({role})", email=None, admin=False, service_role=role
    )


async def add_member(conn: asyncpg.Connection, org: str, user: str, role: str = "admin") -> None:
    org_row = await store.account(conn, org)
    if org_row is None or org_row["kind"] != "org":
        raise IdentityError(f"no organization named {org!r}")
    user_row = await store.account(conn, user)
    if user_row is None or user_row["kind"] != "user":
        raise IdentityError(f"no user named {user!r}")
    if role not in ("admin", "write", "read"):
        raise IdentityError(f"role must be admin, write or read, not {role!r}")
    await store.add_member(conn, org=org, user=user, role=role)


async def issue_token(
    conn: asyncpg.Connection,
    outbox: Outbox,
    user: str,
    *,
    display_name: str = "token",
    role: str = "write",
    token: str | None = None,
) -> IssuedToken:
    """Create a token for `user` (or register the one given) and announce it to the other services.

    A service account's token carries the account's own role (it cannot hold more)."""
    user_row = await store.account(conn, user)
    if user_row is None or user_row["kind"] not in ("user", "service"):
        raise IdentityError(f"no user named {user!r}")
    if user_row["kind"] == "service":
        role = user_row["service_role"]
    if role not in ("read", "write", "admin"):
        raise IdentityError(f"role must be read, write or admin, not {role!r}")
    if token is not None and len(token) < 16:
        raise IdentityError("a token must be at least 16 characters long")
    token = token or new_token()
    digest = token_sha256(token)
    existing = await store.token_by_digest(conn, digest)
    if existing is not None:
        if existing["revoked_at"] is not None:
            raise RevokedToken(f"that token (id {existing['id']}) was revoked; a revoked token is never valid again")
        if existing["user_name"] != user:
            raise IdentityError("that token already belongs to another user")
        return IssuedToken(existing["id"], user, token, existing["role"])  # idempotent re-registration
    token_id = secrets.token_hex(12)
    created_at = await store.insert_token(
        conn, token_id=token_id, user=user, display_name=display_name, role=role, token_sha256=digest
    )
    await outbox.add(
        conn,
        TokenCreated(
            user=user,
            token_id=token_id,
            token_sha256=digest,
            role=role,  # type: ignore[arg-type]
            display_name=display_name,
            created_at=created_at,
        ),
    )
    return IssuedToken(token_id, user, token, role)


async def revoke_token(conn: asyncpg.Connection, outbox: Outbox, token_id: str) -> bool:
    row = await store.revoke_token(conn, token_id)
    if row is None:
        return False
    await outbox.add(
        conn,
        TokenRevoked(
            user=row["user_name"],
            token_id=row["id"],
            token_sha256=row["token_sha256"],
            revoked_at=row["revoked_at"],
        ),
    )
    return True


def catalog_token_resolver(pool: asyncpg.Pool) -> TokenResolver:
    """The catalog answers from its own table, so a new or revoked token takes effect here at once."""

    async def resolve(token: str) -> Principal | None:
        row = await store.active_token(pool, token_sha256(token))
        return Principal(row["user_name"], row["id"], row["role"], row["service_role"]) if row else None

    return resolve
