-- Why a referral was closed (declined, withdrawn or exited), from a fixed list.
ALTER TABLE referrals ADD COLUMN closing_reason TEXT;

-- One row per child per crèche while the child's referral there is active:
-- the primary key makes a second active referral for the same child fail,
-- even when two arrive at once. `child_key` is a keyed digest of the child's
-- first name, birth date and parent's last name, never the names themselves.
CREATE TABLE referral_child_claims (
    creche_id   TEXT NOT NULL REFERENCES creches (id),
    child_key   TEXT NOT NULL,
    referral_id TEXT NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    PRIMARY KEY (creche_id, child_key)
);
CREATE INDEX referral_child_claims_referral ON referral_child_claims (referral_id);

-- Exchanges with the prescriber's referent about the parent's path.
CREATE TABLE referral_follow_ups (
    id                TEXT PRIMARY KEY,
    referral_id       TEXT NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    date              DATE NOT NULL,
    participants      TEXT NOT NULL,
    employment_status TEXT NOT NULL,
    next_steps        TEXT,
    next_date         DATE,
    actor_kind        TEXT NOT NULL,
    actor_id          TEXT,
    created_at        TIMESTAMP NOT NULL
);
CREATE INDEX referral_follow_ups_referral ON referral_follow_ups (referral_id, date, id);

-- The child's place once enrolled, and how it ended.
CREATE TABLE referral_enrollments (
    referral_id            TEXT PRIMARY KEY REFERENCES referrals (id) ON DELETE CASCADE,
    start_date             DATE NOT NULL,
    contract_end_date      DATE NOT NULL,
    days                   TEXT NOT NULL,
    hours_from             TEXT,
    hours_to               TEXT,
    renewals               INTEGER NOT NULL,
    exit_date              DATE,
    exit_reason            TEXT,
    exit_employment_status TEXT,
    positive_exit          BOOLEAN,
    childcare_solution     TEXT,
    exit_note              TEXT,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL
);
