DROP TABLE oidc_attempts;
ALTER TABLE web_sessions DROP COLUMN id_token;
ALTER TABLE organizations DROP COLUMN siret;
ALTER TABLE organizations DROP COLUMN oidc_required;
