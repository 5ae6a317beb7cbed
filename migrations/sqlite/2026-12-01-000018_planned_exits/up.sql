-- An exit dated after today is planned (issue "Evaluation"): the child
-- stays enrolled, her place booked until that day, when the engine records
-- the exit as it was planned and deletes the plan. Until then the plan can
-- be changed (posted again) or cancelled.
CREATE TABLE planned_exits (
    referral_id        TEXT PRIMARY KEY NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    exit_date          DATE NOT NULL,
    reason             TEXT NOT NULL,
    employment_status  TEXT NOT NULL,
    positive           BOOLEAN NOT NULL,
    childcare_solution TEXT NOT NULL,
    note               TEXT,
    actor_kind         TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_client', 'system')),
    actor_id           TEXT,
    planned_at         TIMESTAMP NOT NULL
);
CREATE INDEX planned_exits_due ON planned_exits (exit_date);
