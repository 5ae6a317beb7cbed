DROP TABLE notifications;
DROP INDEX referral_enrollments_contract_notice;
DROP INDEX referral_enrollments_follow_up_notice;
ALTER TABLE referral_enrollments DROP COLUMN contract_notice_at;
ALTER TABLE referral_enrollments DROP COLUMN follow_up_notice_at;
DROP INDEX referrals_sla_next;
ALTER TABLE referrals DROP COLUMN sla_next_at;
DROP TABLE sla_policies;
