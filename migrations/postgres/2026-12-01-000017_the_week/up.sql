-- The week (issue "The week"): bookings occupy their weekdays only, the
-- crèches record their closures, the family's needs name days and hours.

-- Weekdays as a bit mask: Monday 1, Tuesday 2, Wednesday 4, Thursday 8,
-- Friday 16, Saturday 32, Sunday 64 (127: every day). A booking is now a
-- series of segments: a change of days from a date ends one segment and
-- starts the next, so the key takes the segment's first day.
ALTER TABLE place_bookings
    ADD COLUMN days INTEGER NOT NULL DEFAULT 127 CHECK (days BETWEEN 1 AND 127);
ALTER TABLE place_bookings DROP CONSTRAINT place_bookings_pkey;
ALTER TABLE place_bookings ADD PRIMARY KEY (referral_id, kind, starts_on);
UPDATE place_bookings b SET days = coalesce(nullif(
        (CASE WHEN e.days LIKE '%"mon"%' THEN 1 ELSE 0 END)
      + (CASE WHEN e.days LIKE '%"tue"%' THEN 2 ELSE 0 END)
      + (CASE WHEN e.days LIKE '%"wed"%' THEN 4 ELSE 0 END)
      + (CASE WHEN e.days LIKE '%"thu"%' THEN 8 ELSE 0 END)
      + (CASE WHEN e.days LIKE '%"fri"%' THEN 16 ELSE 0 END)
      + (CASE WHEN e.days LIKE '%"sat"%' THEN 32 ELSE 0 END)
      + (CASE WHEN e.days LIKE '%"sun"%' THEN 64 ELSE 0 END), 0), 127)
FROM referral_enrollments e
WHERE e.referral_id = b.referral_id AND b.kind = 'enrollment';

-- Days a crèche is closed besides its weekly days and public holidays
-- (three weeks in August, Christmas week), both ends included.
CREATE TABLE creche_closures (
    id         TEXT PRIMARY KEY NOT NULL,
    creche_id  TEXT NOT NULL REFERENCES creches (id) ON DELETE CASCADE,
    starts_on  DATE NOT NULL,
    ends_on    DATE NOT NULL CHECK (ends_on >= starts_on),
    label      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT
);
CREATE INDEX creche_closures_by_creche ON creche_closures (creche_id, ends_on);

-- The weekdays the family needs (the mask above) and, optionally, the
-- hours (HH:MM). Referrals from before name a number of days a week only.
CREATE TABLE referral_needs (
    referral_id TEXT PRIMARY KEY NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    days        INTEGER NOT NULL CHECK (days BETWEEN 1 AND 127),
    hours_from  TEXT,
    hours_to    TEXT
);
