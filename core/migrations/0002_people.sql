-- Console users (GLI-31 5.2.2: credentials stored securely, several access
-- levels), their sessions, and the requests that need a second person
-- (GLI-31 5.2.4).

CREATE TABLE users (
    id             UUID PRIMARY KEY,
    staff_id       TEXT NOT NULL UNIQUE,       -- the random id the log knows them by
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,              -- Argon2id, PHC string
    totp_secret    TEXT NOT NULL,              -- base32
    roles          TEXT[] NOT NULL,
    failed_logins  INTEGER NOT NULL DEFAULT 0,
    locked_until   TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Only the SHA-256 of a session token is stored.
CREATE TABLE sessions (
    token_sha256  BYTEA PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE approvals (
    id            UUID PRIMARY KEY,
    kind          TEXT NOT NULL,
    payload       JSONB NOT NULL,
    requested_by  UUID NOT NULL REFERENCES users (id),
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'failed')),
    decided_by    UUID REFERENCES users (id),
    decided_at    TIMESTAMPTZ,
    outcome       TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
