-- Least-privilege roles for Countersign. Run once as a superuser, in the countersign database,
-- before the first `countersign migrate`:
--   psql -v owner_password="'...'" -v bot_password="'...'" -d countersign -f deploy/sql/roles.sql
--
-- countersign_owner owns the schema and runs migrations (`countersign migrate`).
-- countersign_bot is what `countersign serve` connects as: it can read and write requests,
-- votes and the outbox, and it can only INSERT into the audit log and its seals. It can never
-- UPDATE, DELETE or TRUNCATE them, nor alter or drop the tables or their triggers.

CREATE ROLE countersign_owner LOGIN PASSWORD :owner_password;
CREATE ROLE countersign_bot LOGIN PASSWORD :bot_password;

GRANT CONNECT ON DATABASE countersign TO countersign_owner, countersign_bot;
ALTER SCHEMA public OWNER TO countersign_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO countersign_bot;

-- Tables created later by the owner's migrations get these grants automatically.
ALTER DEFAULT PRIVILEGES FOR ROLE countersign_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO countersign_bot;
ALTER DEFAULT PRIVILEGES FOR ROLE countersign_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO countersign_bot;

-- Then, after every `countersign migrate`, run deploy/sql/after-migrate.sql.
