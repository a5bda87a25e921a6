//! The state tables reconciled with the log: every request's status, version, votes and
//! decision must be what its audit entries say, and every state change the log records must be
//! in the state tables. A chain that holds proves the log was not changed; this proves the
//! tables the application answers from were not changed apart from it.

use crate::store::reconcile::{self as store, DifferenceRow};
use anyhow::Context;
use sqlx::PgPool;
use std::fmt;

/// How many differences a reconciliation reports at most (the first ones, by ref).
pub const REPORTED: i64 = 100;

/// One way the state tables and the log disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// A request the log never opened.
    NotOpened {
        /// The request.
        r#ref: String,
    },
    /// The log opened a request the tables do not have.
    NoRequest {
        /// The request.
        r#ref: String,
    },
    /// The stored version is not the log's last one.
    Version {
        /// The request.
        r#ref: String,
        /// Stored.
        stored: String,
        /// Logged.
        logged: Option<String>,
    },
    /// The stored status is not the log's final state (or the log has none, or several).
    Status {
        /// The request.
        r#ref: String,
        /// Stored.
        stored: String,
        /// The final states the log records (comma-separated), or none.
        logged: Option<String>,
    },
    /// The decisions row is missing, extra, or not the log's final state and version.
    Decision {
        /// The request.
        r#ref: String,
        /// Stored (`approved at version 1`), or none.
        stored: Option<String>,
        /// Logged, or none.
        logged: Option<String>,
    },
    /// A vote is stored that the log does not record.
    VoteNotLogged {
        /// The request.
        r#ref: String,
        /// Its version.
        version: Option<i32>,
        /// The voter.
        voter: Option<String>,
        /// `approve` or `reject`.
        kind: Option<String>,
    },
    /// The log records a vote that is not stored.
    VoteNotStored {
        /// The request.
        r#ref: String,
        /// Its version.
        version: Option<i32>,
        /// The voter.
        voter: Option<String>,
        /// `approve` or `reject`.
        kind: Option<String>,
    },
}

impl Mismatch {
    /// The request it concerns.
    pub fn r#ref(&self) -> &str {
        match self {
            Mismatch::NotOpened { r#ref }
            | Mismatch::NoRequest { r#ref }
            | Mismatch::Version { r#ref, .. }
            | Mismatch::Status { r#ref, .. }
            | Mismatch::Decision { r#ref, .. }
            | Mismatch::VoteNotLogged { r#ref, .. }
            | Mismatch::VoteNotStored { r#ref, .. } => r#ref,
        }
    }

    fn from_row(row: DifferenceRow) -> anyhow::Result<Mismatch> {
        let DifferenceRow {
            kind,
            r#ref,
            version,
            who,
            state,
            logged,
        } = row;
        Ok(match kind.as_str() {
            "not_opened" => Mismatch::NotOpened { r#ref },
            "no_request" => Mismatch::NoRequest { r#ref },
            "version" => Mismatch::Version {
                r#ref,
                stored: state.unwrap_or_default(),
                logged,
            },
            "status" => Mismatch::Status {
                r#ref,
                stored: state.unwrap_or_default(),
                logged,
            },
            "decision" => Mismatch::Decision {
                r#ref,
                stored: state,
                logged,
            },
            "vote_not_logged" => Mismatch::VoteNotLogged {
                r#ref,
                version,
                voter: who,
                kind: state,
            },
            "vote_not_stored" => Mismatch::VoteNotStored {
                r#ref,
                version,
                voter: who,
                kind: logged,
            },
            other => anyhow::bail!("unknown kind of difference {other}"),
        })
    }
}

fn or_none(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("?")
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::NotOpened { r#ref } => write!(f, "{ref} is in the requests table but the log never opened it"),
            Mismatch::NoRequest { r#ref } => {
                write!(f, "the log opened {ref} but the requests table has no such request")
            }
            Mismatch::Version { r#ref, stored, logged } => write!(
                f,
                "{ref} is at version {stored} but the log's last version is {}",
                or_none(logged)
            ),
            Mismatch::Status { r#ref, stored, logged } => match logged {
                None => write!(f, "{ref} is {stored} but the log records no final state for it"),
                Some(l) if stored == "pending" => write!(f, "{ref} is pending but the log records it {l}"),
                Some(l) => write!(f, "{ref} is {stored} but the log records it {l}"),
            },
            Mismatch::Decision { r#ref, stored, logged } => match (stored, logged) {
                (None, Some(l)) => write!(f, "{ref} has no decisions row but the log records it {l}"),
                (Some(s), None) => write!(f, "{ref} has a decisions row ({s}) but the log records no final state"),
                (s, l) => write!(
                    f,
                    "{ref}'s decisions row says {} but the log records it {}",
                    or_none(s),
                    or_none(l)
                ),
            },
            Mismatch::VoteNotLogged {
                r#ref,
                version,
                voter,
                kind,
            } => write!(
                f,
                "{ref}: the votes table has {} by {} on version {} with no vote entry in the log",
                or_none(kind),
                or_none(voter),
                version.unwrap_or_default()
            ),
            Mismatch::VoteNotStored {
                r#ref,
                version,
                voter,
                kind,
            } => write!(
                f,
                "{ref}: the log records vote.{} by {} on version {} but the votes table has no such vote",
                or_none(kind),
                or_none(voter),
                version.unwrap_or_default()
            ),
        }
    }
}

/// Every difference between the state tables and the log (up to [`REPORTED`]), read in one
/// snapshot. Empty when they agree.
pub async fn reconcile(pool: &PgPool) -> anyhow::Result<Vec<Mismatch>> {
    let mut tx = pool.begin().await.context("starting the reconciliation")?;
    store::snapshot(&mut tx).await?;
    let rows = store::differences(&mut tx, REPORTED).await?;
    tx.commit().await.context("ending the reconciliation")?;
    rows.into_iter().map(Mismatch::from_row).collect()
}
