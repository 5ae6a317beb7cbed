-- A first meeting the parent books (issue 35, point 4). The crèche's
-- coordinators propose slots; a family invited to some of them picks one
-- through a link without an account. A slot holds one family: the first
-- to book it takes it (`referral_id` set once).
CREATE TABLE meeting_slots (
    id          TEXT PRIMARY KEY NOT NULL,
    creche_id   TEXT NOT NULL REFERENCES creches (id) ON DELETE CASCADE,
    starts_at   TIMESTAMP NOT NULL,
    minutes     INTEGER NOT NULL CHECK (minutes BETWEEN 10 AND 240),
    created_by  TEXT,
    created_at  TIMESTAMP NOT NULL,
    referral_id TEXT REFERENCES referrals (id) ON DELETE SET NULL,
    booked_at   TIMESTAMP,
    -- What the coordinator recorded: the meeting took place, or the
    -- family did not come.
    outcome     TEXT CHECK (outcome IN ('held', 'no_show')),
    outcome_at  TIMESTAMP
);
CREATE INDEX meeting_slots_creche ON meeting_slots (creche_id, starts_at);
CREATE INDEX meeting_slots_referral ON meeting_slots (referral_id);

-- A link sent to one family: the slots it offers, until when, and what
-- the family chose (once). The link's token is signed; the row lets the
-- coordinator revoke it and makes it single-use.
CREATE TABLE meeting_invitations (
    id          TEXT PRIMARY KEY NOT NULL,
    referral_id TEXT NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    slot_ids    TEXT NOT NULL,
    created_by  TEXT,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP,
    used_at     TIMESTAMP,
    choice      TEXT CHECK (choice IN ('slot', 'callback', 'withdraw')),
    slot_id     TEXT REFERENCES meeting_slots (id) ON DELETE SET NULL
);
CREATE INDEX meeting_invitations_referral ON meeting_invitations (referral_id);

-- An e-mail may carry a calendar invitation (`.ics`), as the booking's
-- confirmation does.
ALTER TABLE notifications ADD COLUMN calendar TEXT;
