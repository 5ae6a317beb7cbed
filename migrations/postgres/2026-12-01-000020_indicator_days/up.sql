-- The indicators' running sums (issue "Evaluation", part 6): what each
-- referral settles (received, answered in time or late, offered, enrolled,
-- exited, the situation after) is added to the row of its day of reception
-- (Paris), crèche and prescriber in the transaction that changed it, so a
-- year of indicators reads a few thousand rows instead of every referral.
CREATE TABLE indicator_days (
    day                         DATE NOT NULL,
    creche_id                   TEXT NOT NULL,
    prescriber_organization_id  TEXT NOT NULL,
    received                    INTEGER NOT NULL DEFAULT 0,
    answered                    INTEGER NOT NULL DEFAULT 0,
    within_deadline             INTEGER NOT NULL DEFAULT 0,
    late                        INTEGER NOT NULL DEFAULT 0,
    offers                      INTEGER NOT NULL DEFAULT 0,
    enrollments                 INTEGER NOT NULL DEFAULT 0,
    exits                       INTEGER NOT NULL DEFAULT 0,
    positive_exits              INTEGER NOT NULL DEFAULT 0,
    lasting_solutions           INTEGER NOT NULL DEFAULT 0,
    exits_in_work               INTEGER NOT NULL DEFAULT 0,
    exits_in_training           INTEGER NOT NULL DEFAULT 0,
    asked_3                     INTEGER NOT NULL DEFAULT 0,
    answered_3                  INTEGER NOT NULL DEFAULT 0,
    in_work_3                   INTEGER NOT NULL DEFAULT 0,
    in_training_3               INTEGER NOT NULL DEFAULT 0,
    asked_6                     INTEGER NOT NULL DEFAULT 0,
    answered_6                  INTEGER NOT NULL DEFAULT 0,
    in_work_6                   INTEGER NOT NULL DEFAULT 0,
    in_training_6               INTEGER NOT NULL DEFAULT 0,
    -- The seconds to the first response of the answered ones, sorted and
    -- space-separated: the percentiles need every value, exactly.
    response_seconds            TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (day, creche_id, prescriber_organization_id)
);

-- What each referral added, so that a change takes it away again.
CREATE TABLE referral_tallies (
    referral_id                 TEXT PRIMARY KEY REFERENCES referrals (id) ON DELETE CASCADE,
    day                         DATE NOT NULL,
    creche_id                   TEXT NOT NULL,
    prescriber_organization_id  TEXT NOT NULL,
    -- The counts and the seconds, as JSON.
    tally                       TEXT NOT NULL
);

-- One row once the sums hold every referral: on a database without
-- referrals at once; otherwise the service adds them up when it starts
-- (`avip serve`, `avip sla run`, `avip indicators rebuild`), and the
-- indicators count from the referrals until then.
CREATE TABLE indicator_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    built_at  TIMESTAMP NOT NULL
);
INSERT INTO indicator_state (id, built_at)
SELECT 1, CURRENT_TIMESTAMP WHERE NOT EXISTS (SELECT 1 FROM referrals);
