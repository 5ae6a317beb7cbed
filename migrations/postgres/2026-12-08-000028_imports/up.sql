-- A spreadsheet brought in by a crèche (issue 36): its rows wait here,
-- read and mapped, while the person checks and corrects them; the commit
-- writes the referrals and blanks `sheet` (the file holds personal data:
-- only its name and its counts stay).
CREATE TABLE imports (
    id           TEXT PRIMARY KEY NOT NULL,
    creche_id    TEXT NOT NULL REFERENCES creches (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('referrals', 'places')),
    file_name    TEXT NOT NULL,
    -- The headers, the rows' cells and the mapping (JSON), until the commit.
    sheet        TEXT,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    committed_at TIMESTAMP,
    rows_total   INTEGER NOT NULL DEFAULT 0,
    created      INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX imports_creche ON imports (creche_id, created_at);
