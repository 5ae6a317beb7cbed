DROP TABLE referral_needs;
DROP TABLE creche_closures;
DELETE FROM place_bookings a USING place_bookings b
WHERE a.referral_id = b.referral_id AND a.kind = b.kind AND a.starts_on > b.starts_on;
ALTER TABLE place_bookings DROP CONSTRAINT place_bookings_pkey;
ALTER TABLE place_bookings ADD PRIMARY KEY (referral_id, kind);
ALTER TABLE place_bookings DROP COLUMN days;
