DROP INDEX referrals_waiting;
DROP TRIGGER place_steps_track ON place_bookings;
DROP FUNCTION place_steps_track();
DROP FUNCTION place_steps_apply(place_bookings, INTEGER);
DROP TABLE place_steps;
