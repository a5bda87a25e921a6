//! Claiming messages: at most one per request and lane (the oldest still undelivered), leased
//! so no other worker takes it meanwhile. Either the messages a commit just rang for, looked up
//! by id, or the oldest due ones, found by searching the queue.

use super::worker::Job;
use super::Intent;
use crate::store::outbox::{self as store, MessageRow};
use sqlx::PgPool;
use std::time::Duration;

/// What a claim returned: the jobs, and rows whose intent could not be read.
pub(super) struct Claimed {
    pub jobs: Vec<Job>,
    pub unreadable: Vec<(i64, String)>,
}

/// Claims the oldest due messages (at most `batch`) queued at least `settled` ago, searching
/// the whole queue. Younger messages are left to the process that rang for them.
pub(super) async fn oldest(pool: &PgPool, batch: i64, lease: Duration, settled: Duration) -> anyhow::Result<Claimed> {
    Ok(decode(store::claim_oldest(pool, batch, lease, settled).await?))
}

/// Claims those of messages `ids` that are due and first in line.
pub(super) async fn by_id(pool: &PgPool, ids: &[i64], lease: Duration) -> anyhow::Result<Claimed> {
    Ok(decode(store::claim_by_id(pool, ids, lease).await?))
}

/// Messages `ids` as queued, without claiming them (the console shows what would be sent).
pub(super) async fn peek(pool: &PgPool, ids: &[i64]) -> anyhow::Result<Claimed> {
    Ok(decode(store::peek(pool, ids).await?))
}

fn decode(rows: Vec<MessageRow>) -> Claimed {
    let mut claimed = Claimed {
        jobs: Vec::with_capacity(rows.len()),
        unreadable: Vec::new(),
    };
    for r in rows {
        match serde_json::from_value::<Intent>(r.intent) {
            Ok(intent) => claimed.jobs.push(Job {
                id: r.id,
                intent,
                attempt: r.attempts,
                absorbed: r.absorbed.unwrap_or_default(),
            }),
            Err(e) => claimed.unreadable.push((r.id, format!("unreadable intent: {e}"))),
        }
    }
    claimed.jobs.sort_by_key(|j| j.id);
    claimed
}
