-- The change feed (GET /api/v1/referrals/changes): every insert or update of
-- a referral gives it a new position at the end of the feed, one more than
-- the last. SQLite has one writer at a time, so these numbers are in commit
-- order; change_xid stays 0 (PostgreSQL needs it: see its migration).
-- Referrals are never deleted (retention anonymises them), so the last
-- number is never given twice.
ALTER TABLE referrals ADD COLUMN change_xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE referrals ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
-- Referrals already there keep the order they last changed in.
UPDATE referrals SET change_seq = ordered.n
FROM (SELECT id, row_number() OVER (ORDER BY updated_at, id) AS n FROM referrals) AS ordered
WHERE referrals.id = ordered.id;
CREATE INDEX referrals_by_change ON referrals (change_xid, change_seq);
CREATE TRIGGER referrals_insert_change_position AFTER INSERT ON referrals
BEGIN
    UPDATE referrals
        SET change_seq = (SELECT max(change_seq) FROM referrals WHERE change_xid = 0) + 1
        WHERE id = NEW.id;
END;
-- The trigger's own update changes change_seq, so it does not fire again on
-- it (nor does SQLite run triggers recursively by default).
CREATE TRIGGER referrals_update_change_position AFTER UPDATE ON referrals
    WHEN NEW.change_seq = OLD.change_seq
BEGIN
    UPDATE referrals
        SET change_seq = (SELECT max(change_seq) FROM referrals WHERE change_xid = 0) + 1
        WHERE id = NEW.id;
END;
