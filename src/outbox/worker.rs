//! The delivery worker: claims due messages (per request, in order), delivers them, and retries
//! with backoff, honouring rate limits, until delivered or dead-lettered (audited).

use super::Intent;
use crate::audit::{self, Action, AuditOutcome, NewEntry};
use crate::clock::Clock;
use anyhow::Context;
use serde_json::json;
use sqlx::{PgPool, Row};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Why a delivery failed, as far as retrying is concerned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The platform asked us to wait (HTTP 429 with Retry-After).
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// How long the platform asked us to wait.
        retry_after: Duration,
    },
    /// Worth retrying: a 5xx, a timeout, a connection refused.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Will never succeed (a channel that does not exist): dead-letter at once.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// One claimed message.
#[derive(Clone, Debug)]
pub struct Job {
    /// Outbox id.
    pub id: i64,
    /// What to send.
    pub intent: Intent,
    /// Attempts so far, including this one.
    pub attempt: i32,
    /// Later card updates of the same request, already committed when this job was claimed: a
    /// card is rendered from the request's current state, so delivering this one brings the
    /// card up to date for them too, and they are settled with it.
    pub absorbed: Vec<i64>,
}

/// Delivers intents to the platforms.
#[allow(async_fn_in_trait)]
pub trait Deliverer: Send + Sync + 'static {
    /// Delivers one job; called at most once at a time per request.
    fn deliver(&self, job: &Job) -> impl std::future::Future<Output = Result<(), DeliveryError>> + Send;

    /// Delivers a round of jobs (of different requests) concurrently; one result per job, in
    /// order. A deliverer may override it to read what the whole round needs at once.
    fn deliver_all(&self, jobs: &[Job]) -> impl std::future::Future<Output = Vec<Result<(), DeliveryError>>> + Send {
        futures_util::future::join_all(jobs.iter().map(|job| self.deliver(job)))
    }
}

/// Tuning of the worker.
#[derive(Clone, Debug)]
pub struct OutboxConfig {
    /// Delay before the first retry; doubled for each further one.
    pub backoff_base: Duration,
    /// Longest delay between retries.
    pub backoff_max: Duration,
    /// Attempts before a message is dead-lettered.
    pub max_attempts: i32,
    /// How long a claimed message is reserved for one worker.
    pub lease: Duration,
    /// How often to look for due messages when not woken.
    pub poll: Duration,
    /// Messages claimed per round.
    pub batch: i64,
    /// Rounds in flight at once in one process.
    pub parallel: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            max_attempts: 10,
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(200),
            batch: 64,
            parallel: 4,
        }
    }
}

/// The worker: any number may run against one database (claims use SKIP LOCKED and leases).
pub struct Worker<D: Deliverer> {
    pool: PgPool,
    deliverer: Arc<D>,
    config: OutboxConfig,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

impl<D: Deliverer> Worker<D> {
    /// A worker over `pool`.
    pub fn new(pool: PgPool, deliverer: Arc<D>, config: OutboxConfig, clock: Arc<dyn Clock>) -> Self {
        Worker {
            pool,
            deliverer,
            config,
            clock,
            wake: Arc::new(Notify::new()),
        }
    }

    /// A handle that wakes the worker at once (after a commit that queued messages).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `stop` turns true, finishing the rounds in hand first. Several rounds run at
    /// once (`parallel`), so one round's commits and platform calls overlap another's.
    pub async fn run(self, stop: tokio::sync::watch::Receiver<bool>) {
        let me = Arc::new(self);
        let loops: Vec<_> = (0..me.config.parallel.max(1))
            .map(|_| tokio::spawn(me.clone().rounds(stop.clone())))
            .collect();
        for l in loops {
            let _ = l.await;
        }
    }

    async fn rounds(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let worked = match self.round().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "outbox round failed; will retry");
                    false
                }
            };
            if worked {
                continue;
            }
            tokio::select! {
                _ = stop.changed() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll) => {}
            }
        }
    }

    /// Claims and delivers one batch; returns how many messages it handled. Deliveries are
    /// recorded in one statement: one commit a round rather than one a message.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let jobs = self.claim().await?;
        let n = jobs.len();
        if n == 0 {
            return Ok(0);
        }
        let results = self.deliverer.deliver_all(&jobs).await;
        let mut delivered = Vec::new();
        for (job, result) in jobs.iter().zip(results) {
            match result {
                Ok(()) => {
                    crate::metrics::count(
                        "deliveries_total",
                        &[("kind", job.intent.kind()), ("result", "delivered")],
                    );
                    delivered.push(job.id);
                    delivered.extend(&job.absorbed);
                }
                Err(e) => self.settle(job, e).await?,
            }
        }
        if !delivered.is_empty() {
            sqlx::query("UPDATE outbox SET delivered_at = now(), last_error = NULL WHERE id = ANY($1)")
                .bind(&delivered)
                .execute(&self.pool)
                .await
                .context("recording deliveries")?;
        }
        Ok(n)
    }

    /// Claims due messages, at most one per request (the oldest), and leases them, in one
    /// statement. Webhooks keep their own order beside the chat messages, so a receiver that is
    /// down never holds back a confirmation in chat. Each claimed card update comes with the
    /// later card updates of its request that are already committed: a card is rendered from
    /// the request's current state after this claim, so delivering it brings the card up to
    /// date for them too, and no other worker can claim them while it is undelivered.
    async fn claim(&self) -> anyhow::Result<Vec<Job>> {
        let rows = sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, \
                    next_attempt_at = now() + make_interval(secs => $2) \
             WHERE id IN ( \
               SELECT o.id FROM outbox o \
               WHERE o.delivered_at IS NULL AND o.dead_at IS NULL AND o.next_attempt_at <= now() \
                 AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.ref = o.ref AND e.id < o.id \
                                 AND e.delivered_at IS NULL AND e.dead_at IS NULL \
                                 AND (e.intent->>'kind' = 'webhook') = (o.intent->>'kind' = 'webhook')) \
               ORDER BY o.id LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING id, intent, attempts, \
               CASE WHEN intent->>'kind' = 'update_cards' THEN ARRAY( \
                 SELECT l.id FROM outbox l WHERE l.ref = outbox.ref AND l.id > outbox.id \
                   AND l.delivered_at IS NULL AND l.dead_at IS NULL \
                   AND l.intent->>'kind' = 'update_cards' ORDER BY l.id) END AS absorbed",
        )
        .bind(self.config.batch)
        .bind(self.config.lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await
        .context("claiming outgoing messages")?;
        let mut jobs = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get("id")?;
            match serde_json::from_value::<Intent>(r.try_get("intent")?) {
                Ok(intent) => jobs.push(Job {
                    id,
                    intent,
                    attempt: r.try_get("attempts")?,
                    absorbed: r.try_get::<Option<Vec<i64>>, _>("absorbed")?.unwrap_or_default(),
                }),
                Err(e) => {
                    self.dead_letter(id, None, &format!("unreadable intent: {e}"), 0)
                        .await?
                }
            }
        }
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    /// Records a failed delivery: a retry later, or a dead letter.
    async fn settle(&self, job: &Job, failure: DeliveryError) -> anyhow::Result<()> {
        let label = match &failure {
            DeliveryError::RateLimited { .. } => "rate_limited",
            DeliveryError::Transient(_) => "failed",
            DeliveryError::Permanent(_) => "refused",
        };
        crate::metrics::count("deliveries_total", &[("kind", job.intent.kind()), ("result", label)]);
        let delay = match &failure {
            DeliveryError::Permanent(e) => {
                return self.dead_letter(job.id, Some(&job.intent), e, job.attempt).await;
            }
            _ if job.attempt >= self.config.max_attempts => {
                return self
                    .dead_letter(job.id, Some(&job.intent), &failure.to_string(), job.attempt)
                    .await;
            }
            DeliveryError::RateLimited { retry_after } => (*retry_after).max(Duration::from_millis(10)),
            DeliveryError::Transient(_) => self.backoff(job.attempt),
        };
        let error = Some(failure.to_string());
        tracing::info!(outbox_id = job.id, attempt = job.attempt, ?delay, error = ?error, "delivery will be retried");
        sqlx::query(
            "UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3 WHERE id = $1",
        )
        .bind(job.id)
        .bind(delay.as_secs_f64())
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    fn backoff(&self, attempt: i32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).clamp(0, 20) as u32);
        self.config
            .backoff_base
            .saturating_mul(factor)
            .min(self.config.backoff_max)
    }

    /// Gives up on a message, and audits it in the same transaction.
    async fn dead_letter(&self, id: i64, intent: Option<&Intent>, error: &str, attempts: i32) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE outbox SET dead_at = now(), last_error = $2 WHERE id = $1")
            .bind(id)
            .bind(error)
            .execute(&mut *tx)
            .await?;
        let e = NewEntry {
            identity: Some("system".into()),
            r#ref: intent.and_then(Intent::r#ref).map(str::to_owned),
            details: json!({ "outbox_id": id, "kind": intent.map(Intent::kind), "error": error, "attempts": attempts }),
            ..NewEntry::new(self.clock.now(), Action::MessageDeadLettered, AuditOutcome::Done)
        };
        audit::append(&mut tx, &e).await?;
        tx.commit().await?;
        crate::metrics::count("dead_letters_total", &[]);
        tracing::warn!(outbox_id = id, error, "message dead-lettered");
        Ok(())
    }
}
