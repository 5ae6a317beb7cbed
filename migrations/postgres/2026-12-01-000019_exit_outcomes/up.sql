-- The parent's situation 3 and 6 months after the exit (issue
-- "Evaluation"): the engine asks the referent on each due day (once, then
-- one reminder), by a link that needs no account or through the API; the
-- answer is kept here and on the timeline.
CREATE TABLE exit_outcomes (
    referral_id       TEXT NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    at                TEXT NOT NULL CHECK (at IN ('3_months', '6_months')),
    due_on            DATE NOT NULL,
    requested_at      TIMESTAMP,
    reminded_at       TIMESTAMP,
    answered_at       TIMESTAMP,
    situation         TEXT,
    answered_via      TEXT CHECK (answered_via IN ('link', 'api')),
    PRIMARY KEY (referral_id, at)
);
CREATE INDEX exit_outcomes_due ON exit_outcomes (due_on) WHERE requested_at IS NULL;
CREATE INDEX exit_outcomes_reminders ON exit_outcomes (requested_at)
    WHERE answered_at IS NULL AND reminded_at IS NULL;

-- Exits already recorded are asked about from now on, for the dates still
-- ahead (an exit of long ago is not asked about late).
INSERT INTO exit_outcomes (referral_id, at, due_on)
SELECT e.referral_id, '3_months', (e.exit_date + interval '3 months')::date
FROM referral_enrollments e JOIN referrals r ON r.id = e.referral_id
WHERE e.exit_date IS NOT NULL AND r.status = 'exited' AND (e.exit_date + interval '3 months')::date >= CURRENT_DATE;
INSERT INTO exit_outcomes (referral_id, at, due_on)
SELECT e.referral_id, '6_months', (e.exit_date + interval '6 months')::date
FROM referral_enrollments e JOIN referrals r ON r.id = e.referral_id
WHERE e.exit_date IS NOT NULL AND r.status = 'exited' AND (e.exit_date + interval '6 months')::date >= CURRENT_DATE;
