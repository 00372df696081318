-- This service's copy of the catalog's tokens, kept from hubstream.catalog.identity.
-- (The catalog answers from its own tables; the copy serves ingest and versioning.)
CREATE TABLE known_tokens (
    token_sha256 text PRIMARY KEY,
    token_id     text        NOT NULL,
    user_name    text        NOT NULL,
    role         text        NOT NULL,
    created_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
