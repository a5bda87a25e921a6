//! Runs an approved version's effect on its target, once, and records how it ended.
//!
//! The exactly-once argument, step by step (docs/effects.md says it for operators):
//! 1. The decision, the effect's `pending` row and its outbox message commit together.
//! 2. The outbox delivers the message at least once (retries, replicas, restarts).
//! 3. Each delivery runs the statement and the target's ledger row in one transaction of the
//!    target, under a lock on the effect's id; a delivery that finds the row runs nothing.
//! 4. Then the bot's database records `executed` (with its audit entry) in one transaction; a
//!    crash between 3 and 4 leaves the message undelivered, and the next delivery finds the
//!    ledger row (3) and records it (4) without running anything.

use super::{bind, effect_id, Ended, Inputs};
use crate::audit::NewEntry;
use crate::engine::Engine;
use crate::outbox::{DeliveryError, Intent, Queued};
use crate::store::request_effects::{self, EffectJob, EffectStatus};
use crate::store::targets::{self, Ran, TargetError};
use anyhow::Context as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a test can make the process fail on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The target committed the effect and its ledger row; the bot's database has not recorded it.
    AfterTargetCommit,
}

/// A fault to inject at a stage (tests only: a server never sets one).
pub type FaultHook = Arc<dyn Fn(Stage) -> anyhow::Result<()> + Send + Sync>;

/// Runs effects for the outbox worker.
#[derive(Clone)]
pub struct EffectRunner {
    engine: Engine,
    fault: Option<FaultHook>,
    /// The attempt at which the outbox gives up on a message: an effect whose target is still
    /// away then is recorded as failed and its owners are told, so `retry` can run it later.
    budget: i32,
}

impl std::fmt::Debug for EffectRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EffectRunner").finish_non_exhaustive()
    }
}

impl EffectRunner {
    /// A runner over the engine's targets.
    pub fn new(engine: Engine) -> Self {
        EffectRunner {
            engine,
            fault: None,
            budget: crate::outbox::OutboxConfig::default().max_attempts,
        }
    }

    /// Gives up on an unreachable target at this attempt (the outbox's `max_attempts`).
    pub fn with_budget(mut self, attempts: i32) -> Self {
        self.budget = attempts;
        self
    }

    /// Fails on purpose where `hook` says (tests).
    pub fn with_fault(mut self, hook: FaultHook) -> Self {
        self.fault = Some(hook);
        self
    }

    /// Runs the effect of `ref`'s approved version `version`, unless it has run.
    pub async fn run(&self, r#ref: &str, version: i32) -> Result<(), DeliveryError> {
        self.attempt(r#ref, version, 1).await
    }

    /// Delivery attempt `attempt` of the effect: at the last one, a target still away makes the
    /// effect `failed` (its owners told) before the outbox gives up on the message.
    pub async fn attempt(&self, r#ref: &str, version: i32, attempt: i32) -> Result<(), DeliveryError> {
        let transient = |e: anyhow::Error| DeliveryError::Transient(format!("{e:#}"));
        let job = request_effects::job(self.engine.pool(), r#ref, version)
            .await
            .map_err(transient)?
            .ok_or_else(|| DeliveryError::Permanent(format!("{ref} has no approved effect at version {version}")))?;
        // Only a pending effect runs: an executed one ran, and a failed one runs again only when
        // someone asks (`retry`), which puts it back to pending.
        if job.status != EffectStatus::Pending {
            return Ok(());
        }
        let target = job.effect.target.clone();
        let inputs = Inputs {
            r#ref,
            version,
            requester: &job.requester,
            approvers: job.approvers.clone(),
            decided_at: job.decided_at,
            fields: &job.fields,
        };
        let params = bind(&job.effect, &inputs);
        let id = effect_id(r#ref, version);
        let sha = job.effect.statement_sha256();
        let run = targets::Run {
            effect_id: &id,
            r#ref,
            version,
            statement_sha256: &sha,
            positional: &job.effect.positional,
            params: &params,
            expect_rows: job.effect.expect_rows.count(),
        };
        let started = Instant::now();
        let ran = match self.engine.targets().pool(&target) {
            Ok(pool) => match targets::ensure_ledger(&pool, target.as_str()).await {
                Ok(()) => targets::execute(&pool, target.as_str(), &run).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        const WRITTEN: &str = "written with the effect";
        let ended = match ran {
            Ok(ran @ Ran::Now(_)) => {
                if let Some(hook) = &self.fault {
                    hook(Stage::AfterTargetCommit).map_err(transient)?;
                }
                Ended::of(ran, WRITTEN)
            }
            Ok(ran) => Ended::of(ran, WRITTEN),
            Err(e @ TargetError::Unreachable(..)) if attempt < self.budget => {
                return Err(DeliveryError::Transient(e.to_string()))
            }
            Err(e @ TargetError::Unreachable(..)) => {
                let error = format!("{e}, for {attempt} attempts: it was given up on");
                let gave_up = Ended::failed(error.clone(), WRITTEN);
                self.record(&job, r#ref, version, &gave_up, started.elapsed())
                    .await
                    .map_err(transient)?;
                return Err(DeliveryError::Transient(error));
            }
            Err(e) => Ended::failed(e.to_string(), WRITTEN),
        };
        self.record(&job, r#ref, version, &ended, started.elapsed())
            .await
            .map_err(transient)
    }

    /// Records the end of a run, its audit entry and the card's update, in one transaction.
    async fn record(
        &self,
        job: &EffectJob,
        r#ref: &str,
        version: i32,
        e: &Ended,
        took: Duration,
    ) -> anyhow::Result<()> {
        let now = self.engine.clock().now();
        let mut tx = self.engine.pool().begin().await.context("recording an effect")?;
        let recorded = request_effects::record(
            &mut tx,
            job.request_id,
            version,
            e.status,
            e.stored_rows(),
            e.error.as_deref(),
            now,
        )
        .await?;
        if !recorded {
            // Recorded as executed by another delivery already.
            return Ok(());
        }
        let entry = NewEntry {
            r#ref: Some(r#ref.to_string()),
            version: Some(version),
            ..e.entry(now, &job.workflow, &job.effect, took)
        };
        crate::store::effects::append(&mut tx, entry.row()).await?;
        let mut intents = vec![Intent::UpdateCards {
            r#ref: r#ref.to_string(),
        }];
        if e.status == EffectStatus::Failed {
            intents.extend(self.engine.tell_owners(r#ref, &job.workflow));
        }
        let mut queued = Vec::new();
        for intent in &intents {
            let id = crate::store::effects::enqueue(&mut tx, intent.row()?).await?;
            queued.push(Queued::of(id, intent));
        }
        tx.commit().await.context("recording an effect")?;
        self.engine.wake_outbox(&queued);
        Ok(())
    }
}
