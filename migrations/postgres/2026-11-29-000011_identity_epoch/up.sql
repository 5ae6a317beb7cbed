-- A number that moves whenever anything an access token's identity is
-- made of changes: a person or an API client (disabled, role, password,
-- organisation), an organisation, a crèche or who coordinates it. Each
-- instance keeps the identities it authenticated in memory and polls this
-- number to forget them when it moves (api/src/auth/cache.rs); triggers,
-- not application code, move it, so the command line and every instance
-- are seen too.
-- Sign-ins (`last_login_at`, `last_used_at`) do not move it.
CREATE TABLE identity_epoch (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO identity_epoch (id, n) VALUES (1, 0);
CREATE FUNCTION move_identity_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE identity_epoch SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER organizations_moves_identity_epoch AFTER INSERT OR UPDATE OR DELETE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION move_identity_epoch();
CREATE TRIGGER creches_moves_identity_epoch AFTER INSERT OR UPDATE OR DELETE ON creches
    FOR EACH STATEMENT EXECUTE FUNCTION move_identity_epoch();
CREATE TRIGGER users_moves_identity_epoch
    AFTER INSERT OR UPDATE OF organization_id, email, name, role, password_hash, active, credentials_changed_at OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION move_identity_epoch();
CREATE TRIGGER creche_coordinators_moves_identity_epoch AFTER INSERT OR UPDATE OR DELETE ON creche_coordinators
    FOR EACH STATEMENT EXECUTE FUNCTION move_identity_epoch();
CREATE TRIGGER api_clients_moves_identity_epoch
    AFTER INSERT OR UPDATE OF organization_id, label, active, secret_hash OR DELETE ON api_clients
    FOR EACH STATEMENT EXECUTE FUNCTION move_identity_epoch();
