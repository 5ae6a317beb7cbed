DROP TRIGGER referrals_change_position ON referrals;
DROP FUNCTION referral_change_position();
DROP INDEX referrals_by_change;
DROP SEQUENCE referral_change_seq;
ALTER TABLE referrals DROP COLUMN change_seq;
ALTER TABLE referrals DROP COLUMN change_xid;
