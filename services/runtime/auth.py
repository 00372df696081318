"""Tokens: one token works on all three services.

The catalog owns users and tokens and stores only a SHA-256 of each token
(tokens are 160 random bits, so a fast hash is enough; a slow KDF would only
slow every request). It publishes TokenCreated/TokenRevoked; ingest and
versioning keep a copy (`known_tokens`) from those events, so a revoked token
stops working everywhere as soon as the event is consumed.

Clients send the token the way their API expects it: Hub and Nia clients as
`Authorization: Bearer`, Humanloop clients as `X-API-KEY`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from contracts.catalog import TokenCreated, TokenRevoked
from services.runtime.consumer import EventConsumer, Received
from services.runtime.deps import Deps
from services.runtime.errors import ApiError

TOKEN_PREFIX = "hf_"  # Hub clients recognise tokens by this prefix


@dataclass(frozen=True)
class Principal:
    user: str
    token_id: str
    role: str  # read | write | admin
    # A service account's role over every repo (read | write); None for people. Only the catalog sets it.
    service_role: str | None = None


TokenResolver = Callable[[str], Awaitable[Principal | None]]


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(30)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(401, "Unauthorized", "the Authorization header must be 'Bearer <token>'")
    return value.strip()


def api_key_token(request: web.Request) -> str | None:
    return request.headers.get("X-API-KEY") or bearer_token(request)


TokenExtractor = Callable[[web.Request], str | None]


def require_principal(request: web.Request) -> Principal:
    from services.runtime.keys import PRINCIPAL

    principal: Principal | None = request.get(PRINCIPAL)
    if principal is None:
        raise ApiError(401, "Unauthorized", "this endpoint needs a token; none was sent")
    return principal


def token_copy_resolver(pool: asyncpg.Pool) -> TokenResolver:
    """Resolve tokens from this service's copy of the catalog's tokens."""

    async def resolve(token: str) -> Principal | None:
        row = await pool.fetchrow(
            "SELECT user_name, token_id, role FROM known_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
            token_sha256(token),
        )
        return Principal(row["user_name"], row["token_id"], row["role"]) if row else None

    return resolve


async def on_token_created(message: Received[TokenCreated], conn: asyncpg.Connection) -> None:
    e = message.data
    await conn.execute(
        """INSERT INTO known_tokens (token_sha256, token_id, user_name, role, created_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (token_sha256) DO NOTHING""",
        e.token_sha256,
        e.token_id,
        e.user,
        e.role,
        e.created_at,
    )


async def on_token_revoked(message: Received[TokenRevoked], conn: asyncpg.Connection) -> None:
    e = message.data
    # Upsert: a revocation may arrive for a token this copy never saw (e.g. a fresh consumer group
    # reading a compacted history); it must still be refused.
    await conn.execute(
        """INSERT INTO known_tokens (token_sha256, token_id, user_name, role, created_at, revoked_at)
           VALUES ($1, $2, $3, 'read', $4, $4)
           ON CONFLICT (token_sha256) DO UPDATE SET revoked_at = EXCLUDED.revoked_at""",
        e.token_sha256,
        e.token_id,
        e.user,
        e.revoked_at,
    )


def token_copy_consumer(deps: Deps) -> EventConsumer:
    """The consumer that keeps this service's `known_tokens` in step with the catalog."""
    consumer = deps.consumer(f"{deps.config.service}-identity")
    consumer.on(TokenCreated, on_token_created)
    consumer.on(TokenRevoked, on_token_revoked)
    return consumer
