-- Reconciliation with the card provider (issue 14): what the provider's
-- own books say, fetched from its API and kept here, so that finance
-- compares our card sales, voids and refunds with the money that moved,
-- before a draw is reconciled (GLI-31 2.6.3). Nothing here is in the log.

-- The provider's balance transactions (Stripe: charges, refunds, dispute
-- withdrawals and reinstatements, payouts), each once. `payment_intent`
-- links one to an order (orders.payment_intent); a transaction no order
-- made keeps it NULL or names one we do not know.
CREATE TABLE provider_transactions (
    id              TEXT PRIMARY KEY,
    provider        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    category        TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    fee             BIGINT NOT NULL,
    net             BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    created         TIMESTAMPTZ NOT NULL,
    source          TEXT,
    payment_intent  TEXT,
    payout          TEXT,
    fetched_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX provider_transactions_intent ON provider_transactions (payment_intent);
CREATE INDEX provider_transactions_created ON provider_transactions (created);

-- The provider's payouts to the organisation's bank account.
CREATE TABLE provider_payouts (
    id          TEXT PRIMARY KEY,
    provider    TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    currency    TEXT NOT NULL,
    created     TIMESTAMPTZ NOT NULL,
    arrival     TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL,
    fetched_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Each fetch of the provider's books: when it started and finished, what
-- it brought, or why it failed. The latest finished one dates the
-- reconciliation finance reads.
CREATE TABLE provider_fetches (
    id            BIGSERIAL PRIMARY KEY,
    provider      TEXT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    transactions  INTEGER NOT NULL DEFAULT 0,
    payouts       INTEGER NOT NULL DEFAULT 0,
    error         TEXT
);

-- A raffle's card orders, and each order's reversals newest first, as
-- the comparison reads them.
CREATE INDEX orders_raffle ON orders (raffle_id, provider);
CREATE INDEX payment_reversals_order ON payment_reversals (order_id, opened_at);
