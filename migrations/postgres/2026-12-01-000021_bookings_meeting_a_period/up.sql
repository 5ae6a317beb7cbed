-- The bookings that meet a period, read in one pass from the index alone
-- (availability, the planning, the indicators' occupancy): every column
-- the read needs is in it. It starts like `place_bookings_ends`, which it
-- replaces.
CREATE INDEX place_bookings_meeting
    ON place_bookings (creche_id, ends_before, starts_on, kind, days, places, referral_id);
DROP INDEX place_bookings_ends;
