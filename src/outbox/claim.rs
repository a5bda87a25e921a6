//! Claiming messages: at most one per request and lane (the oldest still undelivered), leased
//! so no other worker takes it meanwhile. Either the messages a commit just rang for, looked up
//! by id, or the oldest due ones, found by searching the queue.

use super::worker::Job;
use super::Intent;
use anyhow::Context;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use std::time::Duration;

/// The claim, less the condition that picks candidates. A candidate is claimable when it is the
/// oldest undelivered message of its request in its lane (webhooks keep their own order beside
/// the chat messages, so a receiver that is down never holds back a confirmation in chat). Each
/// claimed card update comes with the later card updates of its request that are already
/// committed: the card is rendered from the request's state after this claim, so delivering it
/// brings the card up to date for them too, and no other worker can claim them while it is
/// undelivered.
macro_rules! claim_where {
    ($candidates:literal) => {
        concat!(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2) \
             WHERE id IN ( \
               SELECT o.id FROM outbox o \
               WHERE ",
            $candidates,
            " AND o.delivered_at IS NULL AND o.dead_at IS NULL \
                 AND o.next_attempt_at <= now() \
                 AND (o.ref IS NULL OR o.id = ( \
                   SELECT e.id FROM outbox e WHERE e.ref = o.ref \
                     AND e.delivered_at IS NULL AND e.dead_at IS NULL \
                     AND (e.intent->>'kind' = 'webhook') = (o.intent->>'kind' = 'webhook') \
                   ORDER BY e.id LIMIT 1)) \
               ORDER BY o.id LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING id, intent, attempts, \
               CASE WHEN intent->>'kind' = 'update_cards' THEN ARRAY( \
                 SELECT l.id FROM outbox l WHERE l.ref = outbox.ref AND l.id > outbox.id \
                   AND l.delivered_at IS NULL AND l.dead_at IS NULL \
                   AND l.intent->>'kind' = 'update_cards' ORDER BY l.id) END AS absorbed"
        )
    };
}

/// What a claim returned: the jobs, and rows whose intent could not be read.
pub(super) struct Claimed {
    pub jobs: Vec<Job>,
    pub unreadable: Vec<(i64, String)>,
}

/// Claims the oldest due messages (at most `batch`) queued at least `settled` ago, searching
/// the whole queue. Younger messages are left to the process that rang for them.
pub(super) async fn oldest(pool: &PgPool, batch: i64, lease: Duration, settled: Duration) -> anyhow::Result<Claimed> {
    let rows = sqlx::query(claim_where!("o.created_at <= now() - make_interval(secs => $3)"))
        .bind(batch)
        .bind(lease.as_secs_f64())
        .bind(settled.as_secs_f64())
        .fetch_all(pool)
        .await
        .context("claiming outgoing messages")?;
    decode(rows)
}

/// Claims those of messages `ids` that are due and first in line.
pub(super) async fn by_id(pool: &PgPool, ids: &[i64], lease: Duration) -> anyhow::Result<Claimed> {
    let rows = sqlx::query(claim_where!("o.id = ANY($3)"))
        .bind(ids.len() as i64)
        .bind(lease.as_secs_f64())
        .bind(ids)
        .fetch_all(pool)
        .await
        .context("claiming outgoing messages")?;
    decode(rows)
}

/// Messages `ids` as queued, without claiming them (the console shows what would be sent).
pub(super) async fn peek(pool: &PgPool, ids: &[i64]) -> anyhow::Result<Claimed> {
    let rows = sqlx::query("SELECT id, intent, attempts, NULL::bigint[] AS absorbed FROM outbox WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(pool)
        .await
        .context("reading queued messages")?;
    decode(rows)
}

fn decode(rows: Vec<PgRow>) -> anyhow::Result<Claimed> {
    let mut claimed = Claimed {
        jobs: Vec::with_capacity(rows.len()),
        unreadable: Vec::new(),
    };
    for r in rows {
        let id: i64 = r.try_get("id")?;
        match serde_json::from_value::<Intent>(r.try_get("intent")?) {
            Ok(intent) => claimed.jobs.push(Job {
                id,
                intent,
                attempt: r.try_get("attempts")?,
                absorbed: r.try_get::<Option<Vec<i64>>, _>("absorbed")?.unwrap_or_default(),
            }),
            Err(e) => claimed.unreadable.push((id, format!("unreadable intent: {e}"))),
        }
    }
    claimed.jobs.sort_by_key(|j| j.id);
    Ok(claimed)
}
