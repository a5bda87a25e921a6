-- Approvals that execute. The effect a version will run is frozen with it (what the approvers
-- saw is what runs, whatever the workflow file says later), and each approved version's effect
-- has one row that says where it stands. The exactly-once ledger itself lives in each target
-- (deploy/sql/target.sql); for the bot's own database it is this table's row, written in the
-- deciding transaction.

ALTER TABLE request_versions ADD COLUMN effect jsonb;

CREATE TABLE request_effects (
    request_id       bigint NOT NULL REFERENCES requests (id),
    version          integer NOT NULL,
    target           text NOT NULL,
    statement_sha256 text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'executed', 'failed')),
    rows             bigint,
    error            text,
    queued_at        timestamptz NOT NULL,
    executed_at      timestamptz,
    PRIMARY KEY (request_id, version),
    FOREIGN KEY (request_id, version) REFERENCES request_versions (request_id, version)
);

-- An effect that ran stays run: its row never goes back to pending or failed, nor away.
CREATE FUNCTION countersign_guard_effect() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'executed' THEN
        RAISE EXCEPTION 'the effect of request id % version % has run: its record never changes',
            OLD.request_id, OLD.version USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER request_effects_executed_is_final BEFORE UPDATE ON request_effects
    FOR EACH ROW EXECUTE FUNCTION countersign_guard_effect();
CREATE TRIGGER request_effects_no_delete BEFORE DELETE ON request_effects
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER request_effects_no_truncate BEFORE TRUNCATE ON request_effects
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
