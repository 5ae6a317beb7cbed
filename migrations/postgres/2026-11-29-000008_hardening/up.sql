-- Tokens issued before a person's password changed stop working: the
-- extractor compares a token's `iat` with this instant.
ALTER TABLE users ADD COLUMN credentials_changed_at TIMESTAMP;

-- The throttle is now keyed by a hash of the account name and the client's
-- address; the old keys (account names as sent) are dropped.
DELETE FROM login_throttle;
CREATE INDEX login_throttle_window ON login_throttle (first_failure_at);
