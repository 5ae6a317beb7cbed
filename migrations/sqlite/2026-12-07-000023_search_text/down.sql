ALTER TABLE referral_families DROP COLUMN search_text;
