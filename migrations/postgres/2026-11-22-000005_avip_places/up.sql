-- AVIP places (issue "AVIP places and availability").

-- Each crèche's reserved AVIP places, as changes that take effect on a date:
-- a history, never overwritten by a later change. Recording a second value
-- for the same date corrects that plan (who and when are kept). Before its
-- earliest row a crèche has the places of that row.
CREATE TABLE creche_capacity (
    creche_id      TEXT NOT NULL REFERENCES creches (id) ON DELETE CASCADE,
    effective_from DATE NOT NULL,
    avip_places    INTEGER NOT NULL CHECK (avip_places >= 0),
    recorded_at    TIMESTAMP NOT NULL,
    recorded_by    TEXT,
    PRIMARY KEY (creche_id, effective_from)
);
INSERT INTO creche_capacity (creche_id, effective_from, avip_places, recorded_at, recorded_by)
SELECT id, created_at::date, avip_places, created_at, NULL FROM creches;
ALTER TABLE creches DROP COLUMN avip_places;

-- The places a referral takes at its crèche over [starts_on, ends_before):
-- an offer holds them for AVIP_OFFER_HOLD until it becomes an enrollment, is
-- declined or withdrawn; an enrollment occupies them from its start to its
-- contract end or exit, whichever comes first. Written in the transaction of
-- the step that changes them; availability sums them per day.
CREATE TABLE place_bookings (
    referral_id TEXT NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('offer', 'enrollment')),
    creche_id   TEXT NOT NULL REFERENCES creches (id),
    places      INTEGER NOT NULL CHECK (places > 0),
    starts_on   DATE NOT NULL,
    ends_before DATE NOT NULL,
    PRIMARY KEY (referral_id, kind)
);
CREATE INDEX place_bookings_starts ON place_bookings (creche_id, starts_on);
CREATE INDEX place_bookings_ends ON place_bookings (creche_id, ends_before);

INSERT INTO place_bookings (referral_id, kind, creche_id, places, starts_on, ends_before)
SELECT e.referral_id, 'enrollment', r.creche_id,
       GREATEST(1, (SELECT count(*) FROM referral_children c WHERE c.referral_id = r.id)),
       e.start_date,
       LEAST(e.contract_end_date, coalesce(e.exit_date, e.contract_end_date)) + 1
FROM referral_enrollments e JOIN referrals r ON r.id = e.referral_id;

-- Offers still open hold from the day they were made, for the default 7 days.
INSERT INTO place_bookings (referral_id, kind, creche_id, places, starts_on, ends_before)
SELECT r.id, 'offer', r.creche_id,
       GREATEST(1, (SELECT count(*) FROM referral_children c WHERE c.referral_id = r.id)),
       o.made_at::date,
       o.made_at::date + 7
FROM referrals r
JOIN (SELECT referral_id, max(occurred_at) AS made_at FROM referral_events
      WHERE to_status = 'offered' GROUP BY referral_id) o ON o.referral_id = r.id
WHERE r.status = 'offered';
