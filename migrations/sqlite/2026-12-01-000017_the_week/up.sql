-- The week (issue "The week"): bookings occupy their weekdays only, the
-- crèches record their closures, the family's needs name days and hours.

-- Weekdays as a bit mask: Monday 1, Tuesday 2, Wednesday 4, Thursday 8,
-- Friday 16, Saturday 32, Sunday 64 (127: every day). A booking is now a
-- series of segments: a change of days from a date ends one segment and
-- starts the next, so the key takes the segment's first day.
CREATE TABLE place_bookings_by_day (
    referral_id TEXT NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('offer', 'enrollment')),
    creche_id   TEXT NOT NULL REFERENCES creches (id),
    places      INTEGER NOT NULL CHECK (places > 0),
    starts_on   DATE NOT NULL,
    ends_before DATE NOT NULL,
    days        INTEGER NOT NULL DEFAULT 127 CHECK (days BETWEEN 1 AND 127),
    PRIMARY KEY (referral_id, kind, starts_on)
);
INSERT INTO place_bookings_by_day (referral_id, kind, creche_id, places, starts_on, ends_before, days)
SELECT b.referral_id, b.kind, b.creche_id, b.places, b.starts_on, b.ends_before,
       coalesce((SELECT nullif(
            (CASE WHEN e.days LIKE '%"mon"%' THEN 1 ELSE 0 END)
          + (CASE WHEN e.days LIKE '%"tue"%' THEN 2 ELSE 0 END)
          + (CASE WHEN e.days LIKE '%"wed"%' THEN 4 ELSE 0 END)
          + (CASE WHEN e.days LIKE '%"thu"%' THEN 8 ELSE 0 END)
          + (CASE WHEN e.days LIKE '%"fri"%' THEN 16 ELSE 0 END)
          + (CASE WHEN e.days LIKE '%"sat"%' THEN 32 ELSE 0 END)
          + (CASE WHEN e.days LIKE '%"sun"%' THEN 64 ELSE 0 END), 0)
         FROM referral_enrollments e
         WHERE e.referral_id = b.referral_id AND b.kind = 'enrollment'), 127)
FROM place_bookings b;
DROP TABLE place_bookings;
ALTER TABLE place_bookings_by_day RENAME TO place_bookings;
CREATE INDEX place_bookings_starts ON place_bookings (creche_id, starts_on);
CREATE INDEX place_bookings_ends ON place_bookings (creche_id, ends_before);

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
