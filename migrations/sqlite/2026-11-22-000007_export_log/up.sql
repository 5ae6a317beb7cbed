-- Who exported which evaluation rows (DESIGN §3: the timeline shows the
-- exports that included a referral). One row per export and the crèches it
-- covered, not one event per referral: the timeline of a referral derives
-- its `exported` entries from here (received in [received_from,
-- received_before), at one of the crèches, before the export started).
CREATE TABLE evaluation_exports (
    id              TEXT PRIMARY KEY,
    exported_at     TIMESTAMP NOT NULL,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT,
    format          TEXT NOT NULL,
    received_from   TIMESTAMP NOT NULL,
    received_before TIMESTAMP NOT NULL
);

CREATE TABLE evaluation_export_creches (
    export_id TEXT NOT NULL REFERENCES evaluation_exports (id) ON DELETE CASCADE,
    creche_id TEXT NOT NULL REFERENCES creches (id),
    PRIMARY KEY (export_id, creche_id)
);
CREATE INDEX evaluation_export_creches_creche ON evaluation_export_creches (creche_id, export_id);
