-- The last TOTP time step a user signed in with: a code is accepted once.
ALTER TABLE users ADD COLUMN last_totp_step BIGINT;
