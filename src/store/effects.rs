//! The statement that ends a change: everything it writes once it has decided what to do (a
//! vote, a final state, audit entries, outgoing messages) and its idempotency key, at once.
//! A vote is five round trips instead of a dozen, and opening a request queues the card for
//! every approver in one insert.

use super::requests::{Decision, VoteRow};
use crate::policy::Role;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

/// An audit entry as its columns (the audit module builds it, bounded, from its entry).
#[derive(Clone, Debug)]
pub struct EntryRow {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Person id.
    pub actor: Option<String>,
    /// Identity acted through.
    pub identity: Option<String>,
    /// Action name.
    pub action: &'static str,
    /// Request ref.
    pub r#ref: Option<String>,
    /// Request version.
    pub version: Option<i32>,
    /// Rule name.
    pub rule: Option<String>,
    /// Policy content hash.
    pub policy_hash: Option<String>,
    /// `done` or `refused`.
    pub outcome: &'static str,
    /// Refusal reason.
    pub reason: Option<&'static str>,
    /// Details object.
    pub details: Value,
    /// Correlation id.
    pub correlation_id: Option<String>,
}

/// An outgoing message as its columns (the outbox module encodes its intent).
#[derive(Clone, Debug)]
pub struct MessageRow {
    /// The request it concerns (messages of one request are delivered in order).
    pub r#ref: Option<String>,
    /// The encoded intent.
    pub intent: Value,
}

/// What a change writes at its end.
#[derive(Debug, Default)]
pub struct Effects<'a> {
    /// A vote on a request: its id, the version voted on, and the vote.
    pub vote: Option<(i64, i32, &'a VoteRow)>,
    /// A pending request's final state.
    pub decision: Option<&'a Decision>,
    /// Audit entries, in the order they happened.
    pub entries: &'a [EntryRow],
    /// Messages for the outbox, in the order they are to be sent.
    pub messages: &'a [MessageRow],
    /// The inbound action's idempotency key and the outcome to store under it.
    pub key: Option<(&'a str, &'a Value)>,
}

/// Audit entries as columns, one array per column.
#[derive(Default)]
struct EntryColumns {
    at: Vec<DateTime<Utc>>,
    actor: Vec<Option<String>>,
    identity: Vec<Option<String>>,
    action: Vec<String>,
    r#ref: Vec<Option<String>>,
    version: Vec<Option<i32>>,
    rule: Vec<Option<String>>,
    policy_hash: Vec<Option<String>>,
    outcome: Vec<String>,
    reason: Vec<Option<String>>,
    details: Vec<Value>,
    correlation_id: Vec<Option<String>>,
}

impl EntryColumns {
    fn of(entries: &[EntryRow]) -> Self {
        let mut c = EntryColumns::default();
        for e in entries {
            c.at.push(e.at);
            c.actor.push(e.actor.clone());
            c.identity.push(e.identity.clone());
            c.action.push(e.action.to_owned());
            c.r#ref.push(e.r#ref.clone());
            c.version.push(e.version);
            c.rule.push(e.rule.clone());
            c.policy_hash.push(e.policy_hash.clone());
            c.outcome.push(e.outcome.to_owned());
            c.reason.push(e.reason.map(str::to_owned));
            c.details.push(e.details.clone());
            c.correlation_id.push(e.correlation_id.clone());
        }
        c
    }
}

/// Appends one audit entry in the caller's transaction (or on its own, given a plain connection).
pub async fn append(conn: &mut PgConnection, entry: EntryRow) -> anyhow::Result<()> {
    let action = entry.action;
    let effects = Effects {
        entries: std::slice::from_ref(&entry),
        ..Default::default()
    };
    write(conn, &effects)
        .await
        .with_context(|| format!("appending audit entry {action}"))?;
    Ok(())
}

/// Queues one outgoing message in the caller's transaction; returns its id.
pub async fn enqueue(conn: &mut PgConnection, message: MessageRow) -> anyhow::Result<i64> {
    let effects = Effects {
        messages: std::slice::from_ref(&message),
        ..Default::default()
    };
    let ids = write(conn, &effects).await.context("queueing an outgoing message")?;
    ids.and_then(|ids| ids.first().copied())
        .context("the queued message has no id")
}

/// Writes `effects` in the caller's transaction and returns the ids of the queued messages, or
/// `None` when the idempotency key was already used by a committed action: the caller must then
/// roll back everything it wrote (a concurrent first use makes this statement wait until that
/// action commits or rolls back).
/// A final state is only written over `pending`; anything else is an error, and the primary
/// key of `decisions` makes a second final state impossible even if a bug got past the row lock.
pub async fn write(conn: &mut PgConnection, effects: &Effects<'_>) -> anyhow::Result<Option<Vec<i64>>> {
    let c = EntryColumns::of(effects.entries);
    let refs: Vec<Option<String>> = effects.messages.iter().map(|m| m.r#ref.clone()).collect();
    let intents: Vec<Value> = effects.messages.iter().map(|m| m.intent.clone()).collect();
    let (key, outcome) = effects.key.unzip();
    let (vote_request, vote_version, vote) = match effects.vote {
        Some((request, version, vote)) => (Some(request), Some(version), Some(vote)),
        None => (None, None, None),
    };
    let d = effects.decision;
    let row = sqlx::query!(
        r#"WITH cast_vote AS (
           INSERT INTO votes (request_id, version, voter, identity, kind, roles, reason, at)
           SELECT $17, $18, $19, $20, $21, $22, $23, $24 WHERE $17::int8 IS NOT NULL),
         moved AS (
           UPDATE requests SET status = $26, decided_at = $32 WHERE id = $25 AND status = 'pending'
           RETURNING id),
         decided AS (
           INSERT INTO decisions (request_id, outcome, version, rule, policy_hash, decided_by, reason, at)
           SELECT id, $26, $27, $28, $29, $30, $31, $32 FROM moved RETURNING request_id),
         entries AS (
           INSERT INTO audit_log (at, actor, identity, action, ref, version, rule, policy_hash,
                                  outcome, reason, details, correlation_id)
           SELECT * FROM UNNEST($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[],
                                $6::int4[], $7::text[], $8::text[], $9::text[], $10::text[],
                                $11::jsonb[], $12::text[])),
         messages AS (
           INSERT INTO outbox (ref, intent) SELECT * FROM UNNEST($13::text[], $14::jsonb[]) RETURNING id),
         claimed AS (
           INSERT INTO idempotency_keys (key, outcome) SELECT $15::text, $16::jsonb WHERE $15::text IS NOT NULL
           ON CONFLICT (key) DO NOTHING RETURNING key)
         SELECT (SELECT count(*) FROM claimed) AS "claimed!", (SELECT count(*) FROM decided) AS "decided!",
                ARRAY(SELECT id FROM messages ORDER BY id) AS "message_ids!""#,
        &c.at,
        &c.actor as &[Option<String>],
        &c.identity as &[Option<String>],
        &c.action,
        &c.r#ref as &[Option<String>],
        &c.version as &[Option<i32>],
        &c.rule as &[Option<String>],
        &c.policy_hash as &[Option<String>],
        &c.outcome,
        &c.reason as &[Option<String>],
        &c.details,
        &c.correlation_id as &[Option<String>],
        &refs as &[Option<String>],
        &intents,
        key,
        outcome,
        vote_request,
        vote_version,
        vote.map(|v| v.voter.as_str()),
        vote.map(|v| v.identity.as_str()),
        vote.map(|v| v.kind.as_str()),
        vote.map(|v| v.roles.as_slice()) as Option<&[Role]>,
        vote.and_then(|v| v.reason.as_deref()),
        vote.map(|v| v.at),
        d.map(|d| d.request_id),
        d.map(|d| d.outcome.as_str()),
        d.map(|d| d.version),
        d.map(|d| d.rule.as_str()),
        d.map(|d| d.policy_hash.as_str()),
        d.and_then(|d| d.decided_by.as_deref()),
        d.and_then(|d| d.reason.as_deref()),
        d.map(|d| d.at),
    )
    .fetch_one(conn)
    .await
    .context("writing a change")?;
    let (claimed, decided, message_ids) = (row.claimed, row.decided, row.message_ids);
    if let Some(d) = d {
        anyhow::ensure!(decided == 1, "request {} was no longer pending", d.request_id);
    }
    Ok((key.is_none() || claimed == 1).then_some(message_ids))
}
