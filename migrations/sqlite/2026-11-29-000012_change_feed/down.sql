DROP TRIGGER referrals_update_change_position;
DROP TRIGGER referrals_insert_change_position;
DROP INDEX referrals_by_change;
ALTER TABLE referrals DROP COLUMN change_seq;
ALTER TABLE referrals DROP COLUMN change_xid;
