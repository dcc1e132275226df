-- Sales units' cash (GLI-31 2.8.1 d): the float handed to each unit's
-- sellers and the drops of cash they hand in, per raffle, as finance
-- counted them. Rows are only added (a correction is another row, with
-- its note); the expected drop is the float plus the unit's cash sales
-- not voided, from the log.
CREATE TABLE rsu_cash (
    id bigserial PRIMARY KEY,
    raffle_id text NOT NULL,
    rsu_id text NOT NULL REFERENCES rsu_devices (id),
    kind text NOT NULL CHECK (kind IN ('float', 'drop')),
    minor bigint NOT NULL CHECK (minor BETWEEN -100000000000 AND 100000000000),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    note text CHECK (length(note) <= 200),
    recorded_by uuid NOT NULL REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rsu_cash_raffle ON rsu_cash (raffle_id, rsu_id);
