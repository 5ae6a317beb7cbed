-- What the territory's scheduled jobs do once (issue 34, points 3 to 5):
-- an offer's reminder and its expiry, a waiting family's review of each
-- period. The key is taken in the transaction of the fact, so a second
-- engine or a restart finds it taken and says nothing twice.
CREATE TABLE job_marks (
    key     TEXT PRIMARY KEY NOT NULL,
    done_at TIMESTAMP NOT NULL
);

-- Places that became free (an exit, a contract's end, an offer refused or
-- expired, more AVIP places, a closure removed), on the weekdays of `days`
-- (a mask, Monday 1 … Sunday 64) from `free_from`, waiting to be matched to
-- the waitlisted families: one row per booking released (its key), matched
-- once.
CREATE TABLE freed_places (
    key         TEXT PRIMARY KEY NOT NULL,
    creche_id   TEXT NOT NULL REFERENCES creches (id) ON DELETE CASCADE,
    days        INTEGER NOT NULL CHECK (days BETWEEN 1 AND 127),
    free_from   DATE NOT NULL,
    cause       TEXT NOT NULL CHECK (cause IN ('exit', 'contract_end', 'offer_refused', 'offer_expired', 'capacity', 'closure_removed')),
    recorded_at TIMESTAMP NOT NULL,
    matched_at  TIMESTAMP
);
CREATE INDEX freed_places_waiting ON freed_places (recorded_at) WHERE matched_at IS NULL;
