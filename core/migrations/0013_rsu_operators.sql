-- Sales-unit operators and revalidation (GLI-31 3.2.2, 5.4.2, 6.1.2).
--
-- An operator (a user with the rsu_operator role) signs in on a unit with
-- a PIN; its Argon2id hash reaches units in the operator list the server
-- signs into every sync answer, which expires at the revalidation
-- interval. The lists are kept here, not in the log: PINs are short, so
-- their hashes must not be public.
ALTER TABLE users ADD COLUMN device_pin_hash text
    CHECK (length(device_pin_hash) BETWEEN 1 AND 200);

-- Revalidation: the last sync that passed every check, and the syncs
-- since that failed one (a unit is disabled after too many).
ALTER TABLE rsu_devices
    ADD COLUMN revalidated_at timestamptz,
    ADD COLUMN failed_revalidations integer NOT NULL DEFAULT 0
        CHECK (failed_revalidations >= 0);

-- The operator lists issued to each unit: while the operators named stay
-- the same, a later answer extends the list's expiry; a change of names
-- starts a new list. A record's operator must be on a list valid at its
-- device time.
CREATE TABLE rsu_operator_lists (
    rsu_id text NOT NULL REFERENCES rsu_devices (id),
    issued_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    operators text[] NOT NULL,
    PRIMARY KEY (rsu_id, issued_at),
    CHECK (expires_at > issued_at)
);
