-- Webhooks (Standard Webhooks): an organisation's subscriptions, and one
-- delivery row per event and subscription, written in the transaction of
-- the fact it announces (the outbox), then sent until a 2xx answers. The
-- delivery's id is its `webhook-id`: the same on every attempt.
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    secret          TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    disabled_reason TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX webhooks_organization ON webhooks (organization_id);
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_type       TEXT NOT NULL,
    referral_id      TEXT REFERENCES referrals (id) ON DELETE SET NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL,
    next_attempt_at  TIMESTAMP NOT NULL,
    last_attempt_at  TIMESTAMP,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    delivered_at     TIMESTAMP
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_of ON webhook_deliveries (webhook_id, id);
