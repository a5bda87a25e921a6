//! One change's unit of work: its transaction, and the audit entries and outgoing messages the
//! use case queues on the way, written at the end in one statement with its idempotency key.

use crate::audit::NewEntry;
use crate::outbox::{Intent, Queued};
use crate::store::effects::{self, Effects};
use crate::store::requests::{Decision, VoteRow};
use serde_json::Value;
use sqlx::PgConnection;
use std::ops::{Deref, DerefMut};

/// A transaction (or a plain connection) and what the change will write when it finishes.
/// Rows of the change itself are written through the connection it dereferences to.
pub(super) struct Work<'c> {
    conn: &'c mut PgConnection,
    vote: Option<(i64, i32, VoteRow)>,
    decision: Option<Decision>,
    entries: Vec<NewEntry>,
    messages: Vec<Intent>,
}

/// How a unit of work ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Finished {
    /// Everything was written (these are the queued messages); the caller commits.
    Written(Vec<Queued>),
    /// The idempotency key was already used by a committed change: the caller rolls back.
    Replay,
}

impl<'c> Work<'c> {
    /// A unit of work on `conn`.
    pub fn new(conn: &'c mut PgConnection) -> Self {
        Work {
            conn,
            vote: None,
            decision: None,
            entries: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// Records a vote on version `version` of request `request_id` when the change finishes.
    pub fn cast(&mut self, request_id: i64, version: i32, vote: VoteRow) {
        self.vote = Some((request_id, version, vote));
    }

    /// Moves the request to its final state when the change finishes.
    pub fn decide(&mut self, decision: Decision) {
        self.decision = Some(decision);
    }

    /// Records an audit entry when the change finishes.
    pub fn audit(&mut self, e: NewEntry) {
        self.entries.push(e);
    }

    /// Queues a message when the change finishes.
    pub fn send(&mut self, intent: Intent) {
        self.messages.push(intent);
    }

    /// Writes what was queued and, with `key`, claims it for `outcome`.
    pub async fn finish(self, key: Option<(&str, &Value)>) -> anyhow::Result<Finished> {
        let entries: Vec<_> = self.entries.iter().map(NewEntry::row).collect();
        let messages = self
            .messages
            .iter()
            .map(Intent::row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let effects = Effects {
            vote: self.vote.as_ref().map(|(r, v, vote)| (*r, *v, vote)),
            decision: self.decision.as_ref(),
            entries: &entries,
            messages: &messages,
            key,
        };
        Ok(match effects::write(self.conn, &effects).await? {
            Some(ids) => Finished::Written(
                ids.into_iter()
                    .zip(&self.messages)
                    .map(|(id, m)| Queued::of(id, m))
                    .collect(),
            ),
            None => Finished::Replay,
        })
    }
}

impl Deref for Work<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn
    }
}

impl DerefMut for Work<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn
    }
}
