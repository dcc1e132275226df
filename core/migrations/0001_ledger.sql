-- The ledger: log entries with their leaf indices, the checkpoints the log
-- signed, and projections of the log (raffles, sales) kept for queries.
-- Orders and idempotent responses hold what the log must not: personal data
-- and validation numbers.

CREATE TABLE log_entries (
    idx        BIGINT PRIMARY KEY CHECK (idx >= 0),
    kind       TEXT NOT NULL,
    raffle_id  UUID,
    time       TIMESTAMPTZ NOT NULL,
    body       BYTEA NOT NULL
);
CREATE INDEX log_entries_raffle ON log_entries (raffle_id, idx);

CREATE TABLE checkpoints (
    size       BIGINT PRIMARY KEY CHECK (size >= 0),
    root       BYTEA NOT NULL,
    note       BYTEA NOT NULL,
    signed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE raffles (
    id          UUID PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('draft', 'open', 'closed')),
    name        TEXT NOT NULL,
    config      JSONB NOT NULL,
    created_idx BIGINT NOT NULL,
    updated_idx BIGINT NOT NULL
);

CREATE TABLE sales (
    id            UUID PRIMARY KEY,
    raffle_id     UUID NOT NULL REFERENCES raffles (id),
    idx           BIGINT NOT NULL UNIQUE REFERENCES log_entries (idx),
    first_number  BIGINT NOT NULL,
    count         BIGINT NOT NULL,
    price_minor   BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    validation    BYTEA NOT NULL,
    voided_idx    BIGINT REFERENCES log_entries (idx)
);
CREATE UNIQUE INDEX sales_numbers ON sales (raffle_id, first_number);
CREATE INDEX sales_validation ON sales (raffle_id, validation);

-- An order becomes a sale with the same id once issued: the sale row is the
-- record of issuance, so `status` holds pending, paid or refunded.
CREATE TABLE orders (
    id            UUID PRIMARY KEY,
    raffle_id     UUID NOT NULL REFERENCES raffles (id),
    package_id    TEXT NOT NULL,
    quantity      INTEGER NOT NULL CHECK (quantity > 0),
    amount_minor  BIGINT NOT NULL CHECK (amount_minor > 0),
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'refunded')),
    provider      TEXT NOT NULL,
    buyer         JSONB NOT NULL,
    stamped       TIMESTAMPTZ NOT NULL,
    refusal       TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Replayed only for the same key and an identical request body; purged after 24 hours.
CREATE TABLE idempotency (
    key             TEXT PRIMARY KEY,
    request_sha256  BYTEA NOT NULL,
    order_id        UUID REFERENCES orders (id),
    status          INTEGER,
    response        JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_created ON idempotency (created_at);

-- Significant events (GLI-31 5.6.1), anchored in the log by events.digest.
CREATE TABLE events (
    id         BIGSERIAL PRIMARY KEY,
    time       TIMESTAMPTZ NOT NULL DEFAULT now(),
    component  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    detail     JSONB NOT NULL,
    user_id    TEXT
);
CREATE INDEX events_search ON events (time, component, kind);

-- Each frozen draw's seed, secret until draw.performed reveals it.
CREATE TABLE draw_seeds (
    raffle_id  UUID NOT NULL REFERENCES raffles (id),
    draw_id    TEXT NOT NULL,
    seed       BYTEA NOT NULL CHECK (length(seed) = 32),
    PRIMARY KEY (raffle_id, draw_id)
);
