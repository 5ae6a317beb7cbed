DROP TABLE access_log_referrals;
DROP TABLE access_log;
DROP INDEX referrals_retention;
ALTER TABLE referral_families DROP COLUMN age_bracket;
ALTER TABLE referral_families DROP COLUMN pseudonym;
