//! The statement that ends a change: its audit entries, its outgoing messages and its
//! idempotency key, written at once. A vote is a handful of round trips instead of a dozen,
//! and opening a request queues the card for every approver in one insert.

use crate::audit::{AuditOutcome, NewEntry};
use crate::outbox::Intent;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

/// What a change writes besides its own rows.
#[derive(Debug, Default)]
pub struct Effects<'a> {
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

/// Writes `effects` in the caller's transaction. Returns `false` when the idempotency key was
/// already used by a committed action: the caller must then roll back everything it wrote (a
/// concurrent first use makes this statement wait until that action commits or rolls back).
pub async fn write(conn: &mut PgConnection, effects: &Effects<'_>) -> anyhow::Result<bool> {
    let c = EntryColumns::of(effects.entries);
    let mut refs = Vec::with_capacity(effects.messages.len());
    let mut intents = Vec::with_capacity(effects.messages.len());
    for m in effects.messages {
        refs.push(m.r#ref().map(str::to_owned));
        intents.push(serde_json::to_value(m).context("encoding an outgoing message")?);
    }
    let (key, outcome) = effects.key.unzip();
    let claimed: Option<String> = sqlx::query_scalar(
        "WITH entries AS ( \
           INSERT INTO audit_log (at, actor, identity, action, ref, version, rule, policy_hash, \
                                  outcome, reason, details, correlation_id) \
           SELECT * FROM UNNEST($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], \
                                $6::int4[], $7::text[], $8::text[], $9::text[], $10::text[], \
                                $11::jsonb[], $12::text[])), \
         messages AS ( \
           INSERT INTO outbox (ref, intent) SELECT * FROM UNNEST($13::text[], $14::jsonb[])) \
         INSERT INTO idempotency_keys (key, outcome) SELECT $15::text, $16::jsonb WHERE $15::text IS NOT NULL \
         ON CONFLICT (key) DO NOTHING RETURNING key",
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
    .fetch_optional(conn)
    .await
    .context("writing audit entries and outgoing messages")?;
    Ok(key.is_none() || claimed.is_some())
}
