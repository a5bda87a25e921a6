-- Run after every `countersign migrate` (as a superuser or countersign_owner), in the countersign
-- database: takes from the bot's role every right on the record it does not need.
--   psql -d countersign -f deploy/sql/after-migrate.sql
--
-- The bot appends to the audit log but never changes it; it writes seals only through
-- countersign_seal (which accepts nothing but the chain's next links); votes, decisions, request
-- versions and idempotency keys are written once and never changed or deleted; requests are
-- never deleted (their status is guarded by triggers); checkpoints are appended.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_seal FROM countersign_bot;
GRANT SELECT ON audit_seal TO countersign_bot;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints FROM countersign_bot;
GRANT SELECT, INSERT ON audit_log, audit_checkpoints TO countersign_bot;
REVOKE UPDATE, DELETE, TRUNCATE ON votes, decisions, request_versions, idempotency_keys FROM countersign_bot;
GRANT SELECT, INSERT ON votes, decisions, request_versions, idempotency_keys TO countersign_bot;
REVOKE DELETE, TRUNCATE ON requests FROM countersign_bot;
GRANT SELECT, INSERT, UPDATE ON requests TO countersign_bot;
GRANT EXECUTE ON FUNCTION countersign_seal(int8[], int8[], text[], text[], xid8) TO countersign_bot;
REVOKE ALL ON _sqlx_migrations FROM countersign_bot;
GRANT SELECT ON _sqlx_migrations TO countersign_bot;
