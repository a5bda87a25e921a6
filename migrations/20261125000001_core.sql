-- Countersign core schema: requests, their versions, votes, final decisions, idempotency keys,
-- and the append-only, hash-chained audit log.
-- Requires PostgreSQL 13 or later (xid8, pg_current_xact_id).

CREATE TABLE workflow_counters (
    workflow    text PRIMARY KEY,
    last_number bigint NOT NULL CHECK (last_number > 0)
);

CREATE TABLE requests (
    id                 bigserial PRIMARY KEY,
    ref                text NOT NULL UNIQUE,
    workflow           text NOT NULL,
    number             bigint NOT NULL,
    requester          text NOT NULL,
    requester_identity text NOT NULL,
    status             text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled', 'expired')),
    version            integer NOT NULL CHECK (version >= 1),
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    decided_at         timestamptz,
    UNIQUE (workflow, number)
);
CREATE INDEX requests_pending_expiry ON requests (expires_at) WHERE status = 'pending';
CREATE INDEX requests_requester ON requests (requester);

CREATE TABLE request_versions (
    request_id  bigint NOT NULL REFERENCES requests (id),
    version     integer NOT NULL,
    fields      jsonb NOT NULL,
    rule        text NOT NULL,
    groups      jsonb NOT NULL,
    policy_hash text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (request_id, version)
);

CREATE TABLE votes (
    id         bigserial PRIMARY KEY,
    request_id bigint NOT NULL,
    version    integer NOT NULL,
    voter      text NOT NULL,
    identity   text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('approve', 'reject')),
    roles      text[] NOT NULL,
    reason     text,
    at         timestamptz NOT NULL,
    FOREIGN KEY (request_id, version) REFERENCES request_versions (request_id, version),
    -- One person, one vote per version: the database backs the domain's rule.
    UNIQUE (request_id, version, voter)
);

-- The final record of each decided request; exactly one row per request, ever.
CREATE TABLE decisions (
    request_id  bigint PRIMARY KEY REFERENCES requests (id),
    outcome     text NOT NULL CHECK (outcome IN ('approved', 'rejected', 'cancelled', 'expired')),
    version     integer NOT NULL,
    rule        text NOT NULL,
    policy_hash text NOT NULL,
    decided_by  text,
    reason      text,
    at          timestamptz NOT NULL
);

-- An inbound action's key and the outcome it produced: a replay returns the stored outcome.
CREATE TABLE idempotency_keys (
    key        text PRIMARY KEY,
    outcome    jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The formal audit log. Rows are written in the same transaction as the change they record.
-- `txid` lets the sealer chain entries in commit order without a global lock on writers.
CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    txid           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at             timestamptz NOT NULL,
    actor          text,
    identity       text,
    action         text NOT NULL,
    ref            text,
    version        integer,
    rule           text,
    policy_hash    text,
    outcome        text NOT NULL CHECK (outcome IN ('done', 'refused')),
    reason         text,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb,
    correlation_id text
);
CREATE INDEX audit_log_txid ON audit_log (txid, id);
CREATE INDEX audit_log_ref ON audit_log (ref, id);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action, id);

-- The hash chain over audit_log, in the order entries became settled (committed).
-- seq is the chain position; hash = sha256(prev_hash || canonical entry).
-- txid_bound: every audit_log entry with txid below it was sealed by this or an earlier pass.
CREATE TABLE audit_seal (
    seq        bigint PRIMARY KEY CHECK (seq >= 1),
    entry_id   bigint NOT NULL UNIQUE REFERENCES audit_log (id),
    prev_hash  text NOT NULL,
    hash       text NOT NULL,
    txid_bound xid8 NOT NULL,
    sealed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION countersign_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER audit_seal_append_only BEFORE UPDATE OR DELETE ON audit_seal
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER audit_seal_no_truncate BEFORE TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
