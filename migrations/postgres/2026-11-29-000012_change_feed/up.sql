-- The change feed (GET /api/v1/referrals/changes): every insert or update of
-- a referral gives it a new position (change_xid, change_seq) at the end of
-- the feed. change_seq comes from a sequence, so it is unique but not in
-- commit order: a transaction can take a number and commit after one that
-- took a later number. So the feed is read in (transaction id, sequence)
-- order and only up to the oldest transaction still running
-- (pg_snapshot_xmin): everything before that point is committed or rolled
-- back and can no longer change. A reader that stores its position then
-- misses nothing and reads nothing twice out of order.
ALTER TABLE referrals ADD COLUMN change_xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE referrals ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE SEQUENCE referral_change_seq;
-- Referrals already there keep the order they last changed in.
UPDATE referrals SET change_seq = ordered.n
FROM (SELECT id, row_number() OVER (ORDER BY updated_at, id) AS n FROM referrals) AS ordered
WHERE referrals.id = ordered.id;
SELECT setval('referral_change_seq', (SELECT COALESCE(max(change_seq), 0) + 1 FROM referrals), false);
CREATE FUNCTION referral_change_position() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_xid := pg_current_xact_id()::text::bigint;
    NEW.change_seq := nextval('referral_change_seq');
    RETURN NEW;
END
$$;
CREATE TRIGGER referrals_change_position BEFORE INSERT OR UPDATE ON referrals
    FOR EACH ROW EXECUTE FUNCTION referral_change_position();
CREATE INDEX referrals_by_change ON referrals (change_xid, change_seq);
