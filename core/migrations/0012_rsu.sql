-- Sales units (RSUs): the master list (GLI-31 5.4.1) and the nonces of
-- their sync requests. Enrolment, status, allocations and chains are log
-- entries (the ledger holds them); this table holds what the log does not:
-- the model, who operates the unit, its software and its last contact.
CREATE TABLE rsu_devices (
    id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
    model text NOT NULL CHECK (length(model) BETWEEN 1 AND 100),
    operator text NOT NULL CHECK (length(operator) BETWEEN 1 AND 100),
    public_key bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    software_version text CHECK (length(software_version) <= 100),
    last_contact timestamptz,
    registered_by uuid NOT NULL REFERENCES users (id),
    registered_at timestamptz NOT NULL DEFAULT now()
);

-- A sync request's nonce is used once: a captured request cannot be replayed.
CREATE TABLE rsu_nonces (
    rsu_id text NOT NULL REFERENCES rsu_devices (id),
    nonce text NOT NULL CHECK (nonce ~ '^[0-9a-f]{32}$'),
    used_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rsu_id, nonce)
);
