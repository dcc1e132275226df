-- The console (issue 5): users created by an administrator in the console
-- enrol their TOTP authenticator at their first sign-in (a QR code of a
-- secret only they see); users provisioned otherwise (the first
-- administrator, the API) are enrolled from the start.
ALTER TABLE users ADD COLUMN totp_enrolled BOOLEAN NOT NULL DEFAULT true;

-- Jurisdiction texts shown on raffle pages and receipts: the responsible
-- gambling help line and the prize-estimate notice (settings, not raffle
-- data: not in the log; every change is a significant event with the old
-- and new values, GLI-31 5.2.4).
CREATE TABLE jurisdiction_texts (
    jurisdiction        TEXT PRIMARY KEY,
    help_line           TEXT NOT NULL,
    estimate_notice_en  TEXT NOT NULL,
    estimate_notice_fr  TEXT NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
