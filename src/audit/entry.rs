//! What one audit entry says, how it is appended, and how it is read back.

use crate::approval::RefusalReason;
use crate::store::effects::EntryRow;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sqlx::PgExecutor;
use std::fmt;

/// The stable action vocabulary that SIEM rules match on: never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A request was opened (or an attempt to open one was refused).
    RequestOpened,
    /// The requester amended a pending request.
    RequestAmended,
    /// An approval vote.
    VoteApprove,
    /// A reject vote.
    VoteReject,
    /// The request reached its quorum.
    RequestApproved,
    /// The request was rejected.
    RequestRejected,
    /// The requester withdrew the request.
    RequestCancelled,
    /// Nobody decided before the expiry.
    RequestExpired,
    /// Someone looked at a request (only refused views are recorded).
    RequestViewed,
    /// A workflow file was loaded with a content hash not seen before.
    PolicyLoaded,
    /// people.toml was loaded with a content hash not seen before.
    DirectoryLoaded,
    /// An outgoing message was given up on.
    MessageDeadLettered,
    /// An owner's digest was sent.
    DigestSent,
    /// The audit log was read out through the API (a SIEM pull), or an attempt was refused.
    AuditExported,
    /// A checkpoint of the chain's head was signed (details: its `seq`, `hash` and `kid`).
    AuditCheckpoint,
    /// A version's effect was tried and rolled back for the card (details: target, statement
    /// hash, the rows it would change or why it would fail).
    EffectPreviewed,
    /// An approved effect ran on its target (details: target, statement hash, rows, duration).
    EffectExecuted,
    /// An approved effect could not run (details: target, statement hash, the reason).
    EffectFailed,
    /// Someone asked for a failed effect to run again (`retry REF`), or was refused.
    EffectRetried,
}

impl Action {
    /// Every action, in the order of the vocabulary.
    pub const ALL: [Action; 19] = [
        Action::RequestOpened,
        Action::RequestAmended,
        Action::VoteApprove,
        Action::VoteReject,
        Action::RequestApproved,
        Action::RequestRejected,
        Action::RequestCancelled,
        Action::RequestExpired,
        Action::RequestViewed,
        Action::PolicyLoaded,
        Action::DirectoryLoaded,
        Action::MessageDeadLettered,
        Action::DigestSent,
        Action::AuditExported,
        Action::AuditCheckpoint,
        Action::EffectPreviewed,
        Action::EffectExecuted,
        Action::EffectFailed,
        Action::EffectRetried,
    ];

    /// The action stored as `name`.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::RequestOpened => "request.opened",
            Action::RequestAmended => "request.amended",
            Action::VoteApprove => "vote.approve",
            Action::VoteReject => "vote.reject",
            Action::RequestApproved => "request.approved",
            Action::RequestRejected => "request.rejected",
            Action::RequestCancelled => "request.cancelled",
            Action::RequestExpired => "request.expired",
            Action::RequestViewed => "request.viewed",
            Action::PolicyLoaded => "policy.loaded",
            Action::DirectoryLoaded => "directory.loaded",
            Action::MessageDeadLettered => "message.dead_lettered",
            Action::DigestSent => "digest.sent",
            Action::AuditExported => "audit.exported",
            Action::AuditCheckpoint => "audit.checkpoint",
            Action::EffectPreviewed => "effect.previewed",
            Action::EffectExecuted => "effect.executed",
            Action::EffectFailed => "effect.failed",
            Action::EffectRetried => "effect.retried",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the attempt took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditOutcome {
    /// It changed something.
    Done,
    /// It was refused, for a [`RefusalReason`].
    Refused(RefusalReason),
}

/// An entry to append. Built by the engine; the database assigns the id and the chain seals it.
#[derive(Clone, Debug)]
pub struct NewEntry {
    /// When it happened (the engine's clock).
    pub at: DateTime<Utc>,
    /// The person, or `None` for the system.
    pub actor: Option<String>,
    /// The identity acted through, e.g. `slack:T0001/U0ALICE`.
    pub identity: Option<String>,
    /// What was done or attempted.
    pub action: Action,
    /// The request's ref (or the ref that was asked for, when it is unknown).
    pub r#ref: Option<String>,
    /// The request version concerned.
    pub version: Option<i32>,
    /// The rule that applied.
    pub rule: Option<String>,
    /// The content hash of the policy file in force.
    pub policy_hash: Option<String>,
    /// Done, or refused and why.
    pub outcome: AuditOutcome,
    /// Anything else worth keeping (fields, votes, messages), as a JSON object.
    pub details: Value,
    /// The inbound request that caused it.
    pub correlation_id: Option<String>,
}

impl NewEntry {
    /// An entry with only the essentials; the rest can be filled with struct update syntax.
    pub fn new(at: DateTime<Utc>, action: Action, outcome: AuditOutcome) -> Self {
        NewEntry {
            at,
            actor: None,
            identity: None,
            action,
            r#ref: None,
            version: None,
            rule: None,
            policy_hash: None,
            outcome,
            details: json!({}),
            correlation_id: None,
        }
    }
}

/// The longest text an audit entry keeps in one column (a ref, an identity, a rule, ...).
pub const MAX_COLUMN_CHARS: usize = 200;
/// The longest string an entry's details keep (a message, a field value, a reason).
pub const MAX_DETAIL_CHARS: usize = 2_000;
/// The most items an array or object in an entry's details keeps.
pub const MAX_DETAIL_ITEMS: usize = 100;

/// `text` as stored: at most `max` characters (the cut marked with "…[cut: N chars]"), NUL
/// shown as U+FFFD, since Postgres text cannot hold it.
fn bounded_text(text: &str, max: usize) -> String {
    let total = text.chars().count();
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
        .collect();
    if total > max {
        out.push_str(&format!("…[cut: {total} chars]"));
    }
    out
}

fn bounded_details(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(bounded_text(s, MAX_DETAIL_CHARS)),
        Value::Array(items) => Value::Array(items.iter().take(MAX_DETAIL_ITEMS).map(bounded_details).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .take(MAX_DETAIL_ITEMS)
                .map(|(k, v)| (bounded_text(k, MAX_COLUMN_CHARS), bounded_details(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl NewEntry {
    /// The entry as it is stored: every string bounded and free of NUL. Whatever a caller
    /// sends (a 64 KB ref in a URL, a 1 MB workflow name), an entry stays a few kilobytes, so
    /// nobody can grow the undeletable log faster than they can make entries.
    pub fn bounded(&self) -> NewEntry {
        // An empty text column is stored as null, so that a CSV export (where both are an empty
        // cell) reads back to exactly what was hashed.
        let col = |s: &Option<String>| {
            s.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| bounded_text(s, MAX_COLUMN_CHARS))
        };
        NewEntry {
            actor: col(&self.actor),
            identity: col(&self.identity),
            r#ref: col(&self.r#ref),
            rule: col(&self.rule),
            policy_hash: col(&self.policy_hash),
            correlation_id: col(&self.correlation_id),
            details: bounded_details(&self.details),
            ..self.clone()
        }
    }
}

impl NewEntry {
    /// The entry as the columns it is stored in, bounded whatever the caller put in it.
    pub fn row(&self) -> EntryRow {
        let e = self.bounded();
        let (outcome, reason) = match e.outcome {
            AuditOutcome::Done => ("done", None),
            AuditOutcome::Refused(r) => ("refused", Some(r.as_str())),
        };
        EntryRow {
            at: e.at,
            actor: e.actor,
            identity: e.identity,
            action: e.action.as_str(),
            r#ref: e.r#ref,
            version: e.version,
            rule: e.rule,
            policy_hash: e.policy_hash,
            outcome,
            reason,
            details: e.details,
            correlation_id: e.correlation_id,
        }
    }
}

pub use crate::store::audit::StoredEntry;

impl StoredEntry {
    /// `at` as RFC 3339 with microseconds, the form that is hashed and exported.
    pub fn at_rfc3339(&self) -> String {
        self.at.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// The formal export object (also the basis of the canonical encoding).
    pub fn to_json(&self) -> Value {
        json!({
            "seq": self.seq,
            "id": self.id,
            "at": self.at_rfc3339(),
            "actor": self.actor,
            "identity": self.identity,
            "action": self.action,
            "ref": self.r#ref,
            "version": self.version,
            "rule": self.rule,
            "policy_hash": self.policy_hash,
            "outcome": self.outcome,
            "reason": self.reason,
            "details": self.details,
            "correlation_id": self.correlation_id,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        })
    }
}

/// Every entry about one request, sealed or not yet, in the order they were written.
pub async fn trail(db: impl PgExecutor<'_>, r#ref: &str) -> anyhow::Result<Vec<StoredEntry>> {
    crate::store::audit::trail(db, r#ref).await
}
