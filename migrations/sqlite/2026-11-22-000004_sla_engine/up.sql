-- The SLA engine (DESIGN §5).

-- Each version of the policy in force; a new row whenever the settings change.
CREATE TABLE sla_policies (
    version      INTEGER PRIMARY KEY,
    fingerprint  TEXT NOT NULL,
    policy       TEXT NOT NULL,
    activated_at TIMESTAMP NOT NULL
);

-- When the next first-response stage (warning, breach, escalation) fires;
-- NULL once the family was answered, the referral closed, or every stage was
-- reached. The sweep reads this index only, so its cost grows with what is due.
ALTER TABLE referrals ADD COLUMN sla_next_at TIMESTAMP;
CREATE INDEX referrals_sla_next ON referrals (sla_next_at);

-- When an enrolled family's follow-up becomes overdue, and when the notice
-- before the contract's end is due; NULL once notified or after the exit.
ALTER TABLE referral_enrollments ADD COLUMN follow_up_notice_at TIMESTAMP;
ALTER TABLE referral_enrollments ADD COLUMN contract_notice_at TIMESTAMP;
CREATE INDEX referral_enrollments_follow_up_notice ON referral_enrollments (follow_up_notice_at);
CREATE INDEX referral_enrollments_contract_notice ON referral_enrollments (contract_notice_at);

-- The transactional outbox: one row per e-mail to deliver, written in the
-- same transaction as the stage it announces. `dedup_key` makes a second
-- sweep, a restarted process or a second instance write nothing twice.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    dedup_key       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    referral_id     TEXT REFERENCES referrals (id) ON DELETE SET NULL,
    recipients      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent')),
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE UNIQUE INDEX notifications_dedup_key ON notifications (dedup_key);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_referral ON notifications (referral_id);
