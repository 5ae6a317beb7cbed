-- A crèche's list in the order it is received, walked without reading
-- each referral's row: the reference is in the index, so a search tests
-- it (and the family's text, by its key) before any row is read, and the
-- first page stops at the first 50 that match (BENCHMARKS.md, session 21).
CREATE INDEX referrals_creche_received ON referrals (creche_id, received_at, id, reference);
