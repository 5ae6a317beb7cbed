-- Sign-in through an OpenID Connect provider (ProConnect).
-- An organisation may require it of its people (no password then), and may
-- record its SIRET, which the provider's `siret` claim must then match.
ALTER TABLE organizations ADD COLUMN oidc_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN siret TEXT;
-- The provider's id_token of a session opened through it: the
-- `id_token_hint` of the sign-out at the provider.
ALTER TABLE web_sessions ADD COLUMN id_token TEXT;
-- Sign-ins sent to the provider and not yet back: keyed by the SHA-256 of
-- their `state`, taken once (a replayed answer finds nothing).
CREATE TABLE oidc_attempts (
    state_hash TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX oidc_attempts_expiry ON oidc_attempts (expires_at);
