-- The runtime's tables, created in every service's schema (search_path points there).

-- Transactional outbox: a state change and the events it causes commit together;
-- the relay publishes unpublished rows in id order and marks them.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    event_id     text        NOT NULL UNIQUE,
    topic        text        NOT NULL,
    key          text        NOT NULL,
    event_type   text        NOT NULL,
    payload      bytea       NOT NULL,  -- the encoded CloudEvents envelope, sent as is
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Inbox: events already handled by a consumer, recorded in the same transaction as the effect.
CREATE TABLE inbox (
    consumer   text        NOT NULL,
    source     text        NOT NULL,
    event_id   text        NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source, event_id)
);
