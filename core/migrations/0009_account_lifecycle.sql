-- Account lifecycle (issue 11): one-time enrolment codes that expire, a
-- password of the user's own before their authenticator, session ids for
-- revoking one session, and the per-account lock-out columns that
-- sign_in_failures (per account and address) replaced.

-- A user created or reset by an administrator signs in once with a
-- one-time enrolment code (stored as password_hash) until enrol_by; they
-- set a password of their own (must_set_password becomes false) and then
-- confirm their authenticator (totp_enrolled).
ALTER TABLE users ADD COLUMN enrol_by TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN must_set_password BOOLEAN NOT NULL DEFAULT false;
-- Users created before this, still to enrol, hold a password an
-- administrator saw: it becomes a one-time code like the new ones, and
-- expires like them.
UPDATE users SET must_set_password = true, enrol_by = now() + interval '72 hours'
    WHERE NOT totp_enrolled;
ALTER TABLE users DROP COLUMN failed_logins;
ALTER TABLE users DROP COLUMN locked_until;

-- A session's id names it in lists and revocations; its token stays a
-- hash only.
ALTER TABLE sessions ADD COLUMN id UUID NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX sessions_id ON sessions (id);
CREATE INDEX sessions_user ON sessions (user_id);
