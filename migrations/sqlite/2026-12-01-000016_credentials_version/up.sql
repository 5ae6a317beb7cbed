-- Revocation that does not depend on the clock's resolution: a number on
-- each person that moves when her password changes, when she is disabled
-- and when an administrator signs her out everywhere. Access tokens carry
-- the number they were issued under (`ver`) and each workspace session
-- records it; a different number is refused, so re-enabling a person gives
-- none of her old tokens or sessions back.
ALTER TABLE users ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE web_sessions ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 0;
