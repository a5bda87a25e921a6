-- Prepares a Postgres database to be an effect target of Countersign. Run once as a superuser
-- (or the owner of the tables the effects change), in the target database:
--   psql -v bot_password="'...'" -d erp -f deploy/sql/target.sql
-- then grant the role exactly what the workflows' statements need, for example:
--   GRANT SELECT, UPDATE (status, approved_by, approval_ref) ON invoices TO countersign_effects;
-- and give Countersign the URL: COUNTERSIGN_TARGET_ERP=postgres://countersign_effects:...@host/erp
--
-- The ledger makes exactly-once: an effect and its ledger row commit in one transaction of the
-- target, so a run that finds its row has already run. The role may insert ledger rows and read
-- them, never change or delete them.

CREATE ROLE countersign_effects LOGIN PASSWORD :bot_password;

CREATE TABLE IF NOT EXISTS countersign_effects (
    effect_id        text PRIMARY KEY,        -- <REF>@<version>, <REF>@grant, <REF>@revoke
    ref              text NOT NULL,
    version          integer NOT NULL,
    statement_sha256 text NOT NULL,
    rows             bigint NOT NULL,
    executed_at      timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON countersign_effects FROM PUBLIC;
GRANT SELECT, INSERT ON countersign_effects TO countersign_effects;
