-- Phones in E.164 (issue 35): what was stored as ten national digits
-- becomes +33…, or the overseas département's own country code.
UPDATE referral_families SET parent_phone = CASE
    WHEN substr(parent_phone, 1, 4) IN ('0262', '0263', '0692', '0693', '0269', '0639') THEN '+262' || substr(parent_phone, 2)
    WHEN substr(parent_phone, 1, 4) IN ('0590', '0690', '0691') THEN '+590' || substr(parent_phone, 2)
    WHEN substr(parent_phone, 1, 4) IN ('0594', '0694') THEN '+594' || substr(parent_phone, 2)
    WHEN substr(parent_phone, 1, 4) IN ('0596', '0696', '0697') THEN '+596' || substr(parent_phone, 2)
    ELSE '+33' || substr(parent_phone, 2)
END
WHERE parent_phone LIKE '0_________';
UPDATE referrals SET referent_phone = CASE
    WHEN substr(referent_phone, 1, 4) IN ('0262', '0263', '0692', '0693', '0269', '0639') THEN '+262' || substr(referent_phone, 2)
    WHEN substr(referent_phone, 1, 4) IN ('0590', '0690', '0691') THEN '+590' || substr(referent_phone, 2)
    WHEN substr(referent_phone, 1, 4) IN ('0594', '0694') THEN '+594' || substr(referent_phone, 2)
    WHEN substr(referent_phone, 1, 4) IN ('0596', '0696', '0697') THEN '+596' || substr(referent_phone, 2)
    ELSE '+33' || substr(referent_phone, 2)
END
WHERE referent_phone LIKE '0_________';

-- How the family wants to be reached: by SMS, by e-mail, by a phone call
-- only, or through its referent; NULL when nobody asked (no message then).
ALTER TABLE referral_families ADD COLUMN parent_contact TEXT CHECK (parent_contact IN ('sms', 'email', 'phone_call', 'referent'));

-- The crèche's phone, for the family's messages, and whether a family
-- that can be reached gets an acknowledgment at intake.
ALTER TABLE creches ADD COLUMN phone TEXT;
ALTER TABLE creches ADD COLUMN auto_acknowledgment BOOLEAN NOT NULL DEFAULT FALSE;

-- The outbox carries SMS as well as e-mails, and a row the provider
-- refused for good (`failed`) is no longer tried. SQLite cannot change a
-- CHECK constraint: the table is rebuilt.
CREATE TABLE notifications_new (
    id              TEXT PRIMARY KEY,
    dedup_key       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    referral_id     TEXT REFERENCES referrals (id) ON DELETE SET NULL,
    recipients      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    channel         TEXT NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'sms'))
);
INSERT INTO notifications_new (id, dedup_key, kind, referral_id, recipients, subject, body_text, body_html, status, attempts, next_attempt_at, last_error, created_at, sent_at)
    SELECT id, dedup_key, kind, referral_id, recipients, subject, body_text, body_html, status, attempts, next_attempt_at, last_error, created_at, sent_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE UNIQUE INDEX notifications_dedup_key ON notifications (dedup_key);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_referral ON notifications (referral_id);
