//! The outbox's rows: claiming messages under a lease (at most one per request and lane, the
//! oldest still undelivered), reading them without claiming, and recording how each delivery
//! ended. What a message says and how it is delivered live in `outbox/`.

use anyhow::Context;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;

/// A claimed (or read) message as stored.
pub struct MessageRow {
    /// Outbox id.
    pub id: i64,
    /// The encoded intent.
    pub intent: Value,
    /// Attempts so far, including this claim's.
    pub attempts: i32,
    /// Later card updates of the same request absorbed by this one (for a card update).
    pub absorbed: Option<Vec<i64>>,
}

// Both claims share one shape. A candidate is claimable when it is the oldest undelivered
// message of its request in its lane (webhooks keep their own order beside the chat messages,
// so a receiver that is down never holds back a confirmation in chat). Each claimed card update
// comes with the later card updates of its request that are already committed: the card is
// rendered from the request's state after this claim, so delivering it brings the card up to
// date for them too, and no other worker can claim them while it is undelivered.

/// Claims the oldest due messages (at most `batch`) queued at least `settled` ago.
pub async fn claim_oldest(
    pool: &PgPool,
    batch: i64,
    lease: Duration,
    settled: Duration,
) -> anyhow::Result<Vec<MessageRow>> {
    sqlx::query_as!(
        MessageRow,
        r#"UPDATE outbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
           WHERE id IN (
             SELECT o.id FROM outbox o
             WHERE o.created_at <= now() - make_interval(secs => $3)
               AND o.delivered_at IS NULL AND o.dead_at IS NULL
               AND o.next_attempt_at <= now()
               AND (o.ref IS NULL OR o.id = (
                 SELECT e.id FROM outbox e WHERE e.ref = o.ref
                   AND e.delivered_at IS NULL AND e.dead_at IS NULL
                   AND (e.intent->>'kind' = 'webhook') = (o.intent->>'kind' = 'webhook')
                 ORDER BY e.id LIMIT 1))
             ORDER BY o.id LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING id, intent, attempts,
             CASE WHEN intent->>'kind' = 'update_cards' THEN ARRAY(
               SELECT l.id FROM outbox l WHERE l.ref = outbox.ref AND l.id > outbox.id
                 AND l.delivered_at IS NULL AND l.dead_at IS NULL
                 AND l.intent->>'kind' = 'update_cards' ORDER BY l.id) END AS absorbed"#,
        batch,
        lease.as_secs_f64(),
        settled.as_secs_f64()
    )
    .fetch_all(pool)
    .await
    .context("claiming outgoing messages")
}

/// Claims those of messages `ids` that are due and first in line.
pub async fn claim_by_id(pool: &PgPool, ids: &[i64], lease: Duration) -> anyhow::Result<Vec<MessageRow>> {
    sqlx::query_as!(
        MessageRow,
        r#"UPDATE outbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
           WHERE id IN (
             SELECT o.id FROM outbox o
             WHERE o.id = ANY($3)
               AND o.delivered_at IS NULL AND o.dead_at IS NULL
               AND o.next_attempt_at <= now()
               AND (o.ref IS NULL OR o.id = (
                 SELECT e.id FROM outbox e WHERE e.ref = o.ref
                   AND e.delivered_at IS NULL AND e.dead_at IS NULL
                   AND (e.intent->>'kind' = 'webhook') = (o.intent->>'kind' = 'webhook')
                 ORDER BY e.id LIMIT 1))
             ORDER BY o.id LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING id, intent, attempts,
             CASE WHEN intent->>'kind' = 'update_cards' THEN ARRAY(
               SELECT l.id FROM outbox l WHERE l.ref = outbox.ref AND l.id > outbox.id
                 AND l.delivered_at IS NULL AND l.dead_at IS NULL
                 AND l.intent->>'kind' = 'update_cards' ORDER BY l.id) END AS absorbed"#,
        ids.len() as i64,
        lease.as_secs_f64(),
        ids
    )
    .fetch_all(pool)
    .await
    .context("claiming outgoing messages")
}

/// Messages `ids` as queued, without claiming them.
pub async fn peek(pool: &PgPool, ids: &[i64]) -> anyhow::Result<Vec<MessageRow>> {
    sqlx::query_as!(
        MessageRow,
        r#"SELECT id, intent, attempts, NULL::int8[] AS absorbed FROM outbox WHERE id = ANY($1)"#,
        ids
    )
    .fetch_all(pool)
    .await
    .context("reading queued messages")
}

/// Records messages as delivered.
pub async fn delivered(pool: &PgPool, ids: &[i64]) -> anyhow::Result<()> {
    sqlx::query!(
        "UPDATE outbox SET delivered_at = now(), last_error = NULL WHERE id = ANY($1)",
        ids
    )
    .execute(pool)
    .await
    .context("recording deliveries")?;
    Ok(())
}

/// Puts a message back for another attempt after `delay`.
pub async fn retry_later(pool: &PgPool, id: i64, delay: Duration, error: &str) -> anyhow::Result<()> {
    sqlx::query!(
        "UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3 WHERE id = $1",
        id,
        delay.as_secs_f64(),
        error
    )
    .execute(pool)
    .await
    .context("recording a failed delivery")?;
    Ok(())
}

/// Gives up on a message (in the caller's transaction, with its audit entry).
pub async fn dead(conn: &mut PgConnection, id: i64, error: &str) -> anyhow::Result<()> {
    sqlx::query!(
        "UPDATE outbox SET dead_at = now(), last_error = $2 WHERE id = $1",
        id,
        error
    )
    .execute(conn)
    .await
    .context("dead-lettering a message")?;
    Ok(())
}

/// How many digest messages are still waiting for delivery.
pub async fn digests_waiting(pool: &PgPool) -> anyhow::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM outbox
           WHERE delivered_at IS NULL AND dead_at IS NULL AND intent->>'kind' LIKE 'digest_%'"#
    )
    .fetch_one(pool)
    .await
    .context("counting digest messages")
}

/// The queue's depth and the age of its oldest message, in seconds.
pub async fn backlog(pool: &PgPool) -> anyhow::Result<(i64, Option<f64>)> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "depth!", EXTRACT(EPOCH FROM (now() - min(created_at)))::float8 AS oldest
           FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL"#
    )
    .fetch_one(pool)
    .await
    .context("reading the outbox backlog")?;
    Ok((row.depth, row.oldest))
}
