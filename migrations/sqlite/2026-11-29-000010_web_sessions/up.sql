-- Sessions of the web workspace (/app/). The cookie holds a random secret;
-- only its SHA-256 is stored, so a copy of the database opens no session.
-- Stored in the database, sessions survive a restart and are shared by
-- every instance serving one address.
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The CSRF token every form of this session carries.
    csrf TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
