DROP TABLE referral_needs;
DROP TABLE creche_closures;
CREATE TABLE place_bookings_whole (
    referral_id TEXT NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('offer', 'enrollment')),
    creche_id   TEXT NOT NULL REFERENCES creches (id),
    places      INTEGER NOT NULL CHECK (places > 0),
    starts_on   DATE NOT NULL,
    ends_before DATE NOT NULL,
    PRIMARY KEY (referral_id, kind)
);
INSERT INTO place_bookings_whole (referral_id, kind, creche_id, places, starts_on, ends_before)
SELECT referral_id, kind, creche_id, max(places), min(starts_on), max(ends_before)
FROM place_bookings GROUP BY referral_id, kind, creche_id;
DROP TABLE place_bookings;
ALTER TABLE place_bookings_whole RENAME TO place_bookings;
CREATE INDEX place_bookings_starts ON place_bookings (creche_id, starts_on);
CREATE INDEX place_bookings_ends ON place_bookings (creche_id, ends_before);
