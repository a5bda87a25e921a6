//! The end of a round: each delivery recorded as its call returns, each failure settled as a
//! retry (exponential backoff with jitter, or the platform's Retry-After) or a dead letter,
//! audited in the same transaction.

use super::{Completion, Completions, Deliverer, DeliveryError, Job, OutboxConfig, Worker};
use crate::audit::{Action, AuditOutcome, NewEntry};
use crate::outbox::claim::Claimed;
use crate::outbox::{Intent, Queued};
use serde_json::json;
use std::time::{Duration, Instant};

/// The delay before retry `attempt` (from 1), for a random `r` in `[0, 1)`: between half and
/// all of `base * 2^(attempt-1)`, capped at `max`.
fn backoff(config: &OutboxConfig, attempt: i32, r: f64) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).clamp(0, 20) as u32);
    let full = config.backoff_base.saturating_mul(factor).min(config.backoff_max);
    full / 2 + full.mul_f64(r.clamp(0.0, 1.0) / 2.0)
}

impl<D: Deliverer> Worker<D> {
    /// Delivers claimed jobs, recording each delivery as it completes: whatever has completed
    /// is recorded in one statement while the rest are still out, so a round under load still
    /// commits about once, and a slow call holds back no finished delivery. A job still out at
    /// the deadline is abandoned and retried. Returns how many jobs it handled and which
    /// messages it delivered.
    pub(super) async fn deliver(&self, claimed: Claimed) -> anyhow::Result<(usize, Vec<i64>)> {
        for (id, error) in &claimed.unreadable {
            self.dead_letter(*id, None, error, 0).await?;
        }
        let jobs = claimed.jobs;
        let n = jobs.len() + claimed.unreadable.len();
        if jobs.is_empty() {
            return Ok((n, Vec::new()));
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let started = Instant::now();
        let calls = {
            let done = Completions { tx, started };
            let jobs = &jobs;
            async move { self.deliverer.deliver_all(jobs, &done).await }
        };
        let deadline = tokio::time::sleep(self.config.deadline);
        tokio::pin!(calls, deadline);
        let (mut calls_done, mut settled) = (false, vec![false; jobs.len()]);
        let mut delivered = Vec::new();
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                biased;
                got = rx.recv_many(&mut batch, jobs.len()) => {
                    if got == 0 {
                        break; // every sender is gone: the calls are over and all is reported
                    }
                    delivered.extend(self.record(&jobs, batch.drain(..), &mut settled).await?);
                }
                () = &mut calls, if !calls_done => calls_done = true,
                () = &mut deadline => {
                    // Results that came in before the deadline still count.
                    while let Ok(r) = rx.try_recv() {
                        batch.push(r);
                    }
                    delivered.extend(self.record(&jobs, batch.drain(..), &mut settled).await?);
                    break;
                }
            }
        }
        for (job, _) in jobs.iter().zip(&settled).filter(|(_, s)| !**s) {
            crate::metrics::delivery_time(job.intent.kind(), started.elapsed());
            let why = format!(
                "no answer within the delivery deadline ({} s); the call was abandoned",
                self.config.deadline.as_secs()
            );
            self.settle(job, DeliveryError::Transient(why)).await?;
        }
        Ok((n, delivered))
    }

    /// Records the results that have come in: the deliveries in one statement, each failure
    /// as a retry or a dead letter. Returns the messages it recorded as delivered.
    async fn record(
        &self,
        jobs: &[Job],
        results: impl Iterator<Item = Completion>,
        settled: &mut [bool],
    ) -> anyhow::Result<Vec<i64>> {
        let mut delivered = Vec::new();
        for (i, result, took) in results {
            let Some(job) = jobs.get(i).filter(|_| !settled[i]) else {
                continue;
            };
            settled[i] = true;
            crate::metrics::delivery_time(job.intent.kind(), took);
            match result {
                Ok(()) => {
                    crate::metrics::delivery(job.intent.kind(), "delivered");
                    delivered.push(job.id);
                    delivered.extend(&job.absorbed);
                }
                Err(e) => self.settle(job, e).await?,
            }
        }
        if !delivered.is_empty() {
            crate::store::outbox::delivered(&self.pool, &delivered).await?;
        }
        Ok(delivered)
    }

    /// Records a failed delivery: a retry later, or a dead letter.
    async fn settle(&self, job: &Job, failure: DeliveryError) -> anyhow::Result<()> {
        let label = match &failure {
            DeliveryError::RateLimited { .. } => "rate_limited",
            DeliveryError::Transient(_) => "failed",
            DeliveryError::Permanent(_) => "refused",
        };
        crate::metrics::delivery(job.intent.kind(), label);
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
        let error = failure.to_string();
        tracing::info!(
            outbox_id = job.id,
            attempt = job.attempt,
            ?delay,
            error,
            "delivery will be retried"
        );
        crate::store::outbox::retry_later(&self.pool, job.id, delay, &error).await?;
        let bell = self.bell.clone();
        let again = Queued::of(job.id, &job.intent);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            bell.ring(&[again]);
        });
        Ok(())
    }

    /// Exponential backoff with equal jitter: half the delay is fixed, half random, so that the
    /// messages of an outage (or of several replicas) do not all come back at the same instant.
    fn backoff(&self, attempt: i32) -> Duration {
        backoff(&self.config, attempt, rand::random::<f64>())
    }

    /// Gives up on a message, and audits it in the same transaction.
    async fn dead_letter(&self, id: i64, intent: Option<&Intent>, error: &str, attempts: i32) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        crate::store::outbox::dead(&mut tx, id, error).await?;
        let e = NewEntry {
            identity: Some("system".into()),
            r#ref: intent.and_then(Intent::r#ref).map(str::to_owned),
            details: json!({ "outbox_id": id, "kind": intent.map(Intent::kind), "error": error, "attempts": attempts }),
            ..NewEntry::new(self.clock.now(), Action::MessageDeadLettered, AuditOutcome::Done)
        };
        crate::store::effects::append(&mut tx, e.row()).await?;
        tx.commit().await?;
        crate::metrics::dead_letter();
        tracing::warn!(outbox_id = id, error, "message dead-lettered");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_waits_between_half_and_all_of_its_exponential_delay_and_never_past_the_cap() {
        let c = OutboxConfig::default();
        assert_eq!(backoff(&c, 1, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(&c, 1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(&c, 4, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(&c, 4, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(&c, 30, 1.0), c.backoff_max, "capped");
        assert!(backoff(&c, 30, 0.0) >= c.backoff_max / 2);
    }
}
