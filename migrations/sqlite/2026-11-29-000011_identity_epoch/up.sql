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
CREATE TRIGGER organizations_insert_moves_identity_epoch AFTER INSERT ON organizations
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER organizations_update_moves_identity_epoch AFTER UPDATE ON organizations
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER organizations_delete_moves_identity_epoch AFTER DELETE ON organizations
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER creches_insert_moves_identity_epoch AFTER INSERT ON creches
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER creches_update_moves_identity_epoch AFTER UPDATE ON creches
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER creches_delete_moves_identity_epoch AFTER DELETE ON creches
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER users_insert_moves_identity_epoch AFTER INSERT ON users
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER users_update_moves_identity_epoch AFTER UPDATE OF organization_id, email, name, role, password_hash, active, credentials_changed_at ON users
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER users_delete_moves_identity_epoch AFTER DELETE ON users
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER creche_coordinators_insert_moves_identity_epoch AFTER INSERT ON creche_coordinators
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER creche_coordinators_update_moves_identity_epoch AFTER UPDATE ON creche_coordinators
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER creche_coordinators_delete_moves_identity_epoch AFTER DELETE ON creche_coordinators
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER api_clients_insert_moves_identity_epoch AFTER INSERT ON api_clients
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER api_clients_update_moves_identity_epoch AFTER UPDATE OF organization_id, label, active, secret_hash ON api_clients
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER api_clients_delete_moves_identity_epoch AFTER DELETE ON api_clients
BEGIN UPDATE identity_epoch SET n = n + 1 WHERE id = 1; END;
