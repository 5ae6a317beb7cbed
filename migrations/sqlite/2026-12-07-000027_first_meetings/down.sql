ALTER TABLE notifications DROP COLUMN calendar;
DROP TABLE meeting_invitations;
DROP TABLE meeting_slots;
