//! The statement that ends a change: everything it writes once it has decided what to do (a
//! vote, a final state, audit entries, outgoing messages) and its idempotency key, at once.
//! A vote is five round trips instead of a dozen, and opening a request queues the card for
//! every approver in one insert.

use super::requests::{Decision, VoteRow};
use crate::audit::{AuditOutcome, NewEntry};
use crate::outbox::Intent;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

/// What a change writes at its end.
#[derive(Debug, Default)]
pub struct Effects<'a> {
    /// A vote on a request: its id, the version voted on, and the vote.
    pub vote: Option<(i64, i32, &'a VoteRow)>,
    /// A pending request's final state.
    pub decision: Option<&'a Decision>,
    /// Audit entries, in the order they happened.
    pub entries: &'a [NewEntry],
    /// Messages for the outbox, in the order they are to be sent.
    pub messages: &'a [Intent],
    /// The inbound action's idempotency key and the outcome to store under it.
    pub key: Option<(&'a str, &'a Value)>,
}

/// Audit entries as columns, one array per column.
#[derive(Default)]
struct EntryColumns {
    at: Vec<DateTime<Utc>>,
    actor: Vec<Option<String>>,
    identity: Vec<Option<String>>,
    action: Vec<&'static str>,
    r#ref: Vec<Option<String>>,
    version: Vec<Option<i32>>,
    rule: Vec<Option<String>>,
    policy_hash: Vec<Option<String>>,
    outcome: Vec<&'static str>,
    reason: Vec<Option<&'static str>>,
    details: Vec<Value>,
    correlation_id: Vec<Option<String>>,
}

impl EntryColumns {
    fn of(entries: &[NewEntry]) -> Self {
        let mut c = EntryColumns::default();
        for e in entries {
            let e = &e.bounded();
            let (outcome, reason) = match e.outcome {
                AuditOutcome::Done => ("done", None),
                AuditOutcome::Refused(r) => ("refused", Some(r.as_str())),
            };
            c.at.push(e.at);
            c.actor.push(e.actor.clone());
            c.identity.push(e.identity.clone());
            c.action.push(e.action.as_str());
            c.r#ref.push(e.r#ref.clone());
            c.version.push(e.version);
            c.rule.push(e.rule.clone());
            c.policy_hash.push(e.policy_hash.clone());
            c.outcome.push(outcome);
            c.reason.push(reason);
            c.details.push(e.details.clone());
            c.correlation_id.push(e.correlation_id.clone());
        }
        c
    }
}

/// Writes `effects` in the caller's transaction and returns the ids of the queued messages, or
/// `None` when the idempotency key was already used by a committed action: the caller must then
/// roll back everything it wrote (a concurrent first use makes this statement wait until that
/// action commits or rolls back).
/// A final state is only written over `pending`; anything else is an error, and the primary
/// key of `decisions` makes a second final state impossible even if a bug got past the row lock.
pub async fn write(conn: &mut PgConnection, effects: &Effects<'_>) -> anyhow::Result<Option<Vec<i64>>> {
    let c = EntryColumns::of(effects.entries);
    let mut refs = Vec::with_capacity(effects.messages.len());
    let mut intents = Vec::with_capacity(effects.messages.len());
    for m in effects.messages {
        refs.push(m.r#ref().map(str::to_owned));
        intents.push(serde_json::to_value(m).context("encoding an outgoing message")?);
    }
    let (key, outcome) = effects.key.unzip();
    let (vote_request, vote_version, vote) = match effects.vote {
        Some((request, version, vote)) => (Some(request), Some(version), Some(vote)),
        None => (None, None, None),
    };
    let d = effects.decision;
    let (claimed, decided, message_ids): (i64, i64, Vec<i64>) = sqlx::query_as(
        "WITH cast_vote AS ( \
           INSERT INTO votes (request_id, version, voter, identity, kind, roles, reason, at) \
           SELECT $17, $18, $19, $20, $21, $22, $23, $24 WHERE $17::int8 IS NOT NULL), \
         moved AS ( \
           UPDATE requests SET status = $26, decided_at = $32 WHERE id = $25 AND status = 'pending' \
           RETURNING id), \
         decided AS ( \
           INSERT INTO decisions (request_id, outcome, version, rule, policy_hash, decided_by, reason, at) \
           SELECT id, $26, $27, $28, $29, $30, $31, $32 FROM moved RETURNING request_id), \
         entries AS ( \
           INSERT INTO audit_log (at, actor, identity, action, ref, version, rule, policy_hash, \
                                  outcome, reason, details, correlation_id) \
           SELECT * FROM UNNEST($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], \
                                $6::int4[], $7::text[], $8::text[], $9::text[], $10::text[], \
                                $11::jsonb[], $12::text[])), \
         messages AS ( \
           INSERT INTO outbox (ref, intent) SELECT * FROM UNNEST($13::text[], $14::jsonb[]) RETURNING id), \
         claimed AS ( \
           INSERT INTO idempotency_keys (key, outcome) SELECT $15::text, $16::jsonb WHERE $15::text IS NOT NULL \
           ON CONFLICT (key) DO NOTHING RETURNING key) \
         SELECT (SELECT count(*) FROM claimed), (SELECT count(*) FROM decided), \
                ARRAY(SELECT id FROM messages ORDER BY id)",
    )
    .bind(&c.at)
    .bind(&c.actor)
    .bind(&c.identity)
    .bind(&c.action)
    .bind(&c.r#ref)
    .bind(&c.version)
    .bind(&c.rule)
    .bind(&c.policy_hash)
    .bind(&c.outcome)
    .bind(&c.reason)
    .bind(&c.details)
    .bind(&c.correlation_id)
    .bind(&refs)
    .bind(&intents)
    .bind(key)
    .bind(outcome)
    .bind(vote_request)
    .bind(vote_version)
    .bind(vote.map(|v| &v.voter))
    .bind(vote.map(|v| &v.identity))
    .bind(vote.map(|v| &v.kind))
    .bind(vote.map(|v| &v.roles))
    .bind(vote.and_then(|v| v.reason.as_ref()))
    .bind(vote.map(|v| v.at))
    .bind(d.map(|d| d.request_id))
    .bind(d.map(|d| d.outcome.as_str()))
    .bind(d.map(|d| d.version))
    .bind(d.map(|d| &d.rule))
    .bind(d.map(|d| &d.policy_hash))
    .bind(d.and_then(|d| d.decided_by.as_ref()))
    .bind(d.and_then(|d| d.reason.as_ref()))
    .bind(d.map(|d| d.at))
    .fetch_one(conn)
    .await
    .context("writing a change")?;
    if let Some(d) = d {
        anyhow::ensure!(decided == 1, "request {} was no longer pending", d.request_id);
    }
    Ok((key.is_none() || claimed == 1).then_some(message_ids))
}
