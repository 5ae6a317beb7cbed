-- Evaluation exports (DESIGN §8).

-- Secrets the service draws itself and must keep for the database's life,
-- such as the development key of the pseudonymised family ids in exports
-- when AVIP_PSEUDONYM_KEY is not set (so that ids stay stable across
-- restarts). Production sets AVIP_PSEUDONYM_KEY and this stays empty.
CREATE TABLE service_keys (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
