-- The witness's contribution to each draw (architecture page, "The draw"):
-- its Ed25519 signature over the draw.frozen entry, accepted once.
CREATE TABLE draw_contributions (
    raffle_id   UUID NOT NULL REFERENCES raffles (id),
    draw_id     TEXT NOT NULL,
    witness     TEXT NOT NULL,
    signature   BYTEA NOT NULL CHECK (length(signature) = 64),
    PRIMARY KEY (raffle_id, draw_id)
);
