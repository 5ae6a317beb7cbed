DROP TRIGGER organizations_moves_identity_epoch ON organizations;
DROP TRIGGER creches_moves_identity_epoch ON creches;
DROP TRIGGER users_moves_identity_epoch ON users;
DROP TRIGGER creche_coordinators_moves_identity_epoch ON creche_coordinators;
DROP TRIGGER api_clients_moves_identity_epoch ON api_clients;
DROP FUNCTION move_identity_epoch();
DROP TABLE identity_epoch;
