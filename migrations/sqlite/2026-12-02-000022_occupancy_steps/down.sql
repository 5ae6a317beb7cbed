DROP INDEX referrals_waiting;
DROP TRIGGER place_steps_update;
DROP TRIGGER place_steps_delete;
DROP TRIGGER place_steps_insert;
DROP TABLE place_steps;
