DROP TABLE indicator_state;
DROP TABLE referral_tallies;
DROP TABLE indicator_days;
