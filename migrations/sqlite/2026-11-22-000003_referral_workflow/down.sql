DROP TABLE referral_enrollments;
DROP TABLE referral_follow_ups;
DROP TABLE referral_child_claims;
ALTER TABLE referrals DROP COLUMN closing_reason;
