-- What the evaluation keeps of a family once the retention job (or an
-- erasure request) has blanked its personal data: the pseudonymous family
-- id the exports gave, and the first child's age bracket when referred.
ALTER TABLE referral_families ADD COLUMN pseudonym TEXT;
ALTER TABLE referral_families ADD COLUMN age_bracket TEXT;

-- The retention job's query: closed referrals not anonymised yet.
CREATE INDEX referrals_retention ON referrals (closed_at)
    WHERE anonymised_at IS NULL AND closed_at IS NOT NULL;

-- Every read of a family's personal data (docs/data-protection.md): one
-- row per read, and one small row per referral it named, which is what a
-- search by referral walks. No foreign key: the log outlives what it names.
CREATE TABLE access_log (
    id              TEXT PRIMARY KEY,
    at              TIMESTAMP NOT NULL,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT,
    organization_id TEXT NOT NULL,
    operation       TEXT NOT NULL,
    request_id      TEXT,
    -- The referrals read, comma-separated, in the order they were shown.
    referral_ids    TEXT NOT NULL
);
CREATE INDEX access_log_at ON access_log (at, id);
CREATE TABLE access_log_referrals (
    referral_id TEXT NOT NULL,
    access_id   TEXT NOT NULL,
    PRIMARY KEY (referral_id, access_id)
) WITHOUT ROWID;
