DELETE FROM notifications WHERE channel = 'sms' OR status = 'failed';
ALTER TABLE notifications DROP COLUMN channel;
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check CHECK (status IN ('pending', 'sent'));
ALTER TABLE creches DROP COLUMN auto_acknowledgment;
ALTER TABLE creches DROP COLUMN phone;
ALTER TABLE referral_families DROP COLUMN parent_contact;
