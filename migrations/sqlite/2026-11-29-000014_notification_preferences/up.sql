-- How each person (owner `user:<id>`) wants each kind of notice: at once,
-- in one e-mail a day, or not at all; an organisation's default for its
-- people and for the referents it names (owner `organization:<id>`).
CREATE TABLE notification_preferences (
    owner      TEXT NOT NULL,
    notice     TEXT NOT NULL,
    mode       TEXT NOT NULL CHECK (mode IN ('immediate', 'daily_digest', 'off')),
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (owner, notice)
);
-- Notices held for a recipient's daily digest, written in the transaction
-- of the fact like any outbox row, gathered into one e-mail at
-- AVIP_DIGEST_SCHEDULE (`digest_key` is then that e-mail's key).
CREATE TABLE digest_items (
    id          TEXT PRIMARY KEY,
    dedup_key   TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    notice      TEXT NOT NULL,
    referral_id TEXT REFERENCES referrals (id) ON DELETE SET NULL,
    title       TEXT NOT NULL,
    link        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    digest_key  TEXT
);
CREATE UNIQUE INDEX digest_items_dedup_key ON digest_items (dedup_key);
CREATE INDEX digest_items_waiting ON digest_items (digest_key, recipient, created_at);
