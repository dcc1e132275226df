-- Production-safe by default (issue 11).

-- A buyer's handle on their order: a random 128-bit token returned with
-- the order, kept only as its SHA-256. The order id is in the public log
-- (it is the sale id), so it must not act as a secret.
ALTER TABLE orders ADD COLUMN token_sha256 BYTEA;

-- GLI-31 2.3.2: validation numbers never repeat within a raffle. The
-- sequencer refuses a repeated commitment before it is logged; this index
-- is the database's own guarantee.
DROP INDEX sales_validation;
CREATE UNIQUE INDEX sales_validation ON sales (raffle_id, validation);

-- Failed sign-ins per (attempted username, client address): five lock
-- that address out of that account for 15 minutes, never the account for
-- everyone. The username is kept as its SHA-256 (people type passwords
-- into that field), so attempts at unknown names are counted the same way
-- and answered the same.
CREATE TABLE sign_in_failures (
    username_sha256  BYTEA NOT NULL,
    address          TEXT NOT NULL,
    failures         INTEGER NOT NULL DEFAULT 0,
    locked_until     TIMESTAMPTZ,
    last_failure     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (username_sha256, address)
);

-- A disabled user cannot sign in, and their sessions end.
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false;
