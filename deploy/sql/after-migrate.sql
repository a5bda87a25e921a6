-- Run after every `countersign migrate` (as a superuser or countersign_owner), in the countersign
-- database: takes the audit log and its seals back to append-only for the bot's role.
--   psql -d countersign -f deploy/sql/after-migrate.sql
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_seal FROM countersign_bot;
GRANT SELECT, INSERT ON audit_log, audit_seal TO countersign_bot;
REVOKE ALL ON _sqlx_migrations FROM countersign_bot;
GRANT SELECT ON _sqlx_migrations TO countersign_bot;
