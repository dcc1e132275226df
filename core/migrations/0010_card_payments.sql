-- Card payments (issue 14): the provider's references on each order, where
-- its money stands, and the provider's webhook events, stored once each.

-- `cancelled`: the payment never completed (the session expired, the
-- authorisation was cancelled before the order was paid); no money moved.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending', 'paid', 'refunded', 'cancelled'));

-- The provider's ids (Stripe: the Checkout Session and the PaymentIntent).
-- They live here only, never in the log.
ALTER TABLE orders ADD COLUMN payment_session TEXT;
ALTER TABLE orders ADD COLUMN payment_intent TEXT;
CREATE UNIQUE INDEX orders_payment_session ON orders (payment_session) WHERE payment_session IS NOT NULL;
CREATE UNIQUE INDEX orders_payment_intent ON orders (payment_intent) WHERE payment_intent IS NOT NULL;

-- Where the order's money stands at the provider: authorised (held on the
-- buyer's card), captured, cancelled (the hold released), capture_failed,
-- refunded. NULL for providers that move no money or confirm at once.
ALTER TABLE orders ADD COLUMN funds TEXT
    CHECK (funds IN ('authorised', 'captured', 'cancelled', 'capture_failed', 'refunded'));
ALTER TABLE orders ADD COLUMN funds_error TEXT;
-- When a void with refund was approved: until the provider has refunded
-- (funds = refunded), the refund is retried and shown as outstanding.
ALTER TABLE orders ADD COLUMN refund_requested_at TIMESTAMPTZ;

-- Webhook events, raw (with customer_details stripped), one row per event
-- id whatever the number of deliveries; the route answers 200 only once
-- the row is committed, and processing runs from this table.
CREATE TABLE payment_events (
    id            TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    type          TEXT NOT NULL,
    payload       JSONB NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    deliveries    INTEGER NOT NULL DEFAULT 1,
    processed_at  TIMESTAMPTZ,
    outcome       TEXT
);
CREATE INDEX payment_events_unprocessed ON payment_events (received_at) WHERE processed_at IS NULL;

-- The receipt mailed to the buyer's address (if given), or why not.
ALTER TABLE orders ADD COLUMN receipt_mailed_at TIMESTAMPTZ;
ALTER TABLE orders ADD COLUMN receipt_mail_error TEXT;

-- A card dispute on the order: open, then won or lost by the operator.
ALTER TABLE orders ADD COLUMN dispute TEXT CHECK (dispute IN ('open', 'won', 'lost'));

-- A card payment reversed after its ticket was issued (a failed capture, a
-- refund made outside raffled, a dispute): the sale waits for finance to
-- void it (reason payment_reversed) or keep it, two people deciding, and
-- its draws cannot be reconciled meanwhile. One open reversal per order.
CREATE TABLE payment_reversals (
    id          UUID PRIMARY KEY,
    order_id    UUID NOT NULL REFERENCES orders (id),
    raffle_id   UUID NOT NULL,
    cause       TEXT NOT NULL CHECK (cause IN ('capture_failed', 'refunded_outside', 'dispute')),
    detail      JSONB NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'voided', 'kept')),
    -- The request (an approval) finance made for it, if any.
    approval    UUID,
    opened_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at   TIMESTAMPTZ
);
CREATE UNIQUE INDEX payment_reversals_open ON payment_reversals (order_id) WHERE status = 'open';
CREATE INDEX payment_reversals_raffle ON payment_reversals (raffle_id, status);
