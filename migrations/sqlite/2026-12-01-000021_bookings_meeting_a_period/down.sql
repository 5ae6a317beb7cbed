CREATE INDEX place_bookings_ends ON place_bookings (creche_id, ends_before);
DROP INDEX place_bookings_meeting;
