-- The record defends itself in the database, not only in the application:
--
-- * a request's status leaves `pending` once, and only together with its `decisions` row (checked
--   when the transaction commits, since the deciding statement writes both at once);
-- * a final state, a decision, a vote and a request version never change or disappear;
-- * seals are written only through `countersign_seal`, which accepts nothing but the next links
--   of the chain, so a stray write cannot occupy a position or an entry and stop sealing;
-- * signed checkpoints of the chain's head are kept, append-only, for the API to list.
--
-- deploy/sql/after-migrate.sql then takes from the bot's role every right it does not need.

-- Whatever the application decides, a final request stays as it was decided, and no request
-- changes who asked, in which workflow, under which ref.
CREATE FUNCTION countersign_guard_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ref <> OLD.ref OR NEW.workflow <> OLD.workflow OR NEW.number <> OLD.number
       OR NEW.requester <> OLD.requester OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'request %: its ref, workflow, requester and creation time never change', OLD.ref
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status <> 'pending' AND (NEW.status <> OLD.status OR NEW.version <> OLD.version
       OR NEW.decided_at IS DISTINCT FROM OLD.decided_at OR NEW.expires_at <> OLD.expires_at) THEN
        RAISE EXCEPTION 'request % is %: a final state never changes', OLD.ref, OLD.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.version < OLD.version THEN
        RAISE EXCEPTION 'request %: its version only grows', OLD.ref USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER requests_guarded BEFORE UPDATE ON requests
    FOR EACH ROW EXECUTE FUNCTION countersign_guard_request();
CREATE TRIGGER requests_no_delete BEFORE DELETE ON requests
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER requests_no_truncate BEFORE TRUNCATE ON requests
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();

-- At commit: a request that is not pending has the decisions row of that very outcome.
CREATE FUNCTION countersign_check_decided() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r requests%ROWTYPE;
BEGIN
    SELECT * INTO r FROM requests WHERE id = NEW.id;
    IF FOUND AND r.status <> 'pending' AND NOT EXISTS (
        SELECT 1 FROM decisions d WHERE d.request_id = r.id AND d.outcome = r.status) THEN
        RAISE EXCEPTION 'request % is % without a decision: a status leaves pending only with its decisions row',
            r.ref, r.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER requests_decided_with_decision AFTER INSERT OR UPDATE ON requests
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION countersign_check_decided();

-- At commit: a decision is the outcome its request now has.
CREATE FUNCTION countersign_check_decision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = NEW.request_id AND r.status = NEW.outcome) THEN
        RAISE EXCEPTION 'a % decision for request id % whose status is not %', NEW.outcome, NEW.request_id,
            NEW.outcome USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER decisions_match_request AFTER INSERT ON decisions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION countersign_check_decision();

CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER votes_append_only BEFORE UPDATE OR DELETE ON votes
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER votes_no_truncate BEFORE TRUNCATE ON votes
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER request_versions_append_only BEFORE UPDATE OR DELETE ON request_versions
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER request_versions_no_truncate BEFORE TRUNCATE ON request_versions
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();

-- Sealing: the only way a seal is written. It runs with its owner's rights (the role that ran
-- the migrations), so the bot's role needs no INSERT on audit_seal, and it accepts only the
-- chain's next links: contiguous positions after the last seal, each prev_hash the hash before
-- it, lower-case hex, entries that exist, are unsealed and settled below `bound`, and a bound
-- no older than the last one and no newer than the oldest running transaction. A stray call can
-- add a link whose hash `audit verify` then refuses; it can never stop the sealer.
CREATE FUNCTION countersign_seal(seqs int8[], ids int8[], prevs text[], hashes text[], bound xid8)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    last_seq int8;
    last_hash text;
    last_bound xid8;
    n int := coalesce(cardinality(seqs), 0);
BEGIN
    IF n = 0 OR cardinality(ids) <> n OR cardinality(prevs) <> n OR cardinality(hashes) <> n THEN
        RAISE EXCEPTION 'countersign_seal: one seq, entry id, prev_hash and hash per link'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One writer of the chain at a time, whoever calls.
    LOCK TABLE audit_seal IN SHARE ROW EXCLUSIVE MODE;
    SELECT seq, hash, txid_bound INTO last_seq, last_hash, last_bound FROM audit_seal ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        last_seq := 0;
        last_hash := repeat('0', 64);
        last_bound := '0'::xid8;
    END IF;
    IF bound < last_bound OR bound > pg_snapshot_xmin(pg_current_snapshot()) THEN
        RAISE EXCEPTION 'countersign_seal: bound % is outside [% , oldest running transaction]', bound, last_bound
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (
        SELECT 1 FROM (
            SELECT s, p, h, i, lag(h, 1, last_hash) OVER (ORDER BY i) AS before
            FROM unnest(seqs, prevs, hashes) WITH ORDINALITY AS t(s, p, h, i)) AS links
        WHERE s IS DISTINCT FROM last_seq + i OR h IS NULL OR h !~ '^[0-9a-f]{64}$'
           OR p IS DISTINCT FROM before) THEN
        RAISE EXCEPTION 'countersign_seal: the links do not continue the chain at position %', last_seq + 1
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT count(DISTINCT a.id) FROM audit_log a
        WHERE a.id = ANY (ids) AND a.txid < bound
          AND NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.entry_id = a.id)) <> n THEN
        RAISE EXCEPTION 'countersign_seal: an entry is missing, already sealed or not settled below the bound'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO audit_seal (seq, entry_id, prev_hash, hash, txid_bound)
    SELECT s, e, p, h, bound FROM unnest(seqs, ids, prevs, hashes) AS t(s, e, p, h);
END;
$$;
REVOKE ALL ON FUNCTION countersign_seal(int8[], int8[], text[], text[], xid8) FROM PUBLIC;

-- Signed checkpoints of the chain's head, as they were published. The copies that count are
-- the ones kept outside (digests, webhook receivers, a SIEM); these are the API's list.
CREATE TABLE audit_checkpoints (
    seq   bigint PRIMARY KEY CHECK (seq >= 1),
    hash  text NOT NULL,
    at    timestamptz NOT NULL,
    kid   text NOT NULL,
    jws   text NOT NULL
);
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
