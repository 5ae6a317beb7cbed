DROP INDEX login_throttle_window;
ALTER TABLE users DROP COLUMN credentials_changed_at;
