-- Foundation: organisations, crèches and their coordinators, people, API
-- clients, referrals with their children, and the referral timeline.
-- Ids are UUID v7 stored as text on both backends; times are UTC stored as
-- `timestamp` (no zone) on both backends; JSON documents are stored as text.
-- Keep this file and migrations/postgres/<same folder>/up.sql in step.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('france_travail', 'conseil_departemental', 'mission_locale', 'caf', 'creche_operator', 'admin')),
    name        TEXT NOT NULL,
    departement TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX organizations_departement ON organizations (departement);

CREATE TABLE creches (
    id               TEXT PRIMARY KEY,
    operator_id      TEXT NOT NULL REFERENCES organizations (id),
    name             TEXT NOT NULL,
    address          TEXT NOT NULL,
    postal_code      TEXT NOT NULL,
    commune          TEXT NOT NULL,
    avip_places      INTEGER NOT NULL CHECK (avip_places >= 0),
    opening_hours    TEXT NOT NULL,
    escalation_email TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX creches_operator ON creches (operator_id);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    email           TEXT NOT NULL,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('prescriber', 'coordinator', 'caf', 'admin')),
    password_hash   TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    last_login_at   TIMESTAMP
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_organization ON users (organization_id);

CREATE TABLE creche_coordinators (
    creche_id TEXT NOT NULL REFERENCES creches (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (creche_id, user_id)
);
CREATE INDEX creche_coordinators_user ON creche_coordinators (user_id);

CREATE TABLE api_clients (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id       TEXT NOT NULL,
    secret_hash     TEXT NOT NULL,
    label           TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    last_used_at    TIMESTAMP
);
CREATE UNIQUE INDEX api_clients_client_id ON api_clients (client_id);
CREATE INDEX api_clients_organization ON api_clients (organization_id);

-- Human references (AVIP-<departement>-<year>-<n>) are drawn from one counter
-- per département and year, incremented in the referral's transaction.
CREATE TABLE reference_counters (
    departement TEXT NOT NULL,
    year        INTEGER NOT NULL,
    last_value  INTEGER NOT NULL,
    PRIMARY KEY (departement, year)
);

CREATE TABLE referrals (
    id                            TEXT PRIMARY KEY,
    reference                     TEXT NOT NULL,
    prescriber_organization_id    TEXT NOT NULL REFERENCES organizations (id),
    creche_id                     TEXT NOT NULL REFERENCES creches (id),
    created_by                    TEXT NOT NULL,
    idempotency_key               TEXT,
    request_fingerprint           TEXT,
    referent_name                 TEXT NOT NULL,
    referent_email                TEXT NOT NULL,
    referent_phone                TEXT,
    parent_situation              TEXT NOT NULL,
    single_parent                 BOOLEAN NOT NULL,
    qpv_resident                  BOOLEAN NOT NULL,
    desired_start_date            DATE,
    days_per_week                 INTEGER,
    atypical_hours                BOOLEAN NOT NULL,
    insertion_project_kind        TEXT NOT NULL,
    consent_given                 BOOLEAN NOT NULL,
    consent_date                  DATE NOT NULL,
    status                        TEXT NOT NULL CHECK (status IN ('received', 'contacted', 'offered', 'waitlisted', 'enrolled', 'declined', 'withdrawn', 'exited')),
    received_at                   TIMESTAMP NOT NULL,
    first_response_at             TIMESTAMP,
    closed_at                     TIMESTAMP,
    updated_at                    TIMESTAMP NOT NULL,
    sla_due_at                    TIMESTAMP,
    sla_stage                     TEXT,
    sla_policy_version            INTEGER,
    anonymised_at                 TIMESTAMP
);
CREATE UNIQUE INDEX referrals_reference ON referrals (reference);
CREATE UNIQUE INDEX referrals_idempotency ON referrals (prescriber_organization_id, idempotency_key);
CREATE INDEX referrals_creche_status ON referrals (creche_id, status, received_at, id);
CREATE INDEX referrals_prescriber ON referrals (prescriber_organization_id, received_at, id);
CREATE INDEX referrals_updated ON referrals (updated_at, id);
CREATE INDEX referrals_received ON referrals (received_at, id);
CREATE INDEX referrals_sla_due ON referrals (sla_due_at);

-- The family's personal data, apart from the facts that the evaluation keeps:
-- the retention job blanks this row and nothing else.
CREATE TABLE referral_families (
    referral_id                   TEXT PRIMARY KEY REFERENCES referrals (id) ON DELETE CASCADE,
    parent_first_name             TEXT NOT NULL,
    parent_last_name              TEXT NOT NULL,
    parent_phone                  TEXT,
    parent_email                  TEXT,
    parent_postal_code            TEXT NOT NULL,
    parent_commune                TEXT NOT NULL,
    france_travail_id             TEXT,
    needs_notes                   TEXT,
    insertion_project_description TEXT
);

CREATE TABLE referral_children (
    id          TEXT PRIMARY KEY,
    referral_id TEXT NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    first_name  TEXT NOT NULL,
    birth_date  DATE NOT NULL
);
CREATE UNIQUE INDEX referral_children_position ON referral_children (referral_id, position);

-- The timeline is append-only: rows are inserted, never updated or deleted
-- (the retention job only blanks personal text).
CREATE TABLE referral_events (
    id          TEXT PRIMARY KEY,
    referral_id TEXT NOT NULL REFERENCES referrals (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_client', 'system')),
    actor_id    TEXT,
    from_status TEXT,
    to_status   TEXT,
    reason      TEXT,
    note        TEXT,
    data        TEXT
);
CREATE INDEX referral_events_referral ON referral_events (referral_id, occurred_at, id);
