ALTER TABLE web_sessions DROP COLUMN credentials_version;
ALTER TABLE users DROP COLUMN credentials_version;
