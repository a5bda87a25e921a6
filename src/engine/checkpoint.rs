//! Signing a checkpoint of the audit chain's head: verified first, kept, recorded in the log as
//! `audit.checkpoint`, and queued to every webhook subscribed to it, in one transaction.

use super::Engine;
use crate::audit::checkpoint::Checkpoint;
use crate::audit::signer::ReceiptSigner;
use crate::audit::{self, Action, AuditOutcome, NewEntry};
use crate::outbox::{Intent, Queued};
use crate::policy::WebhookEvent;
use crate::store::checkpoints as store;
use anyhow::Context as _;
use serde_json::json;
use std::collections::BTreeSet;

/// Why a checkpoint is being made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occasion {
    /// Someone asked (`countersign audit checkpoint`): sign the head whatever it is.
    Asked,
    /// The fixed interval came round: sign only when something happened since the last one.
    Interval,
}

/// Why no checkpoint was signed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Nothing is sealed yet.
    #[error("the audit chain is empty: there is nothing to checkpoint yet")]
    Empty,
    /// The chain does not verify from the last checkpoint on: signing it would vouch for a
    /// forgery. This is an alarm, not a retry.
    #[error("the audit chain does not verify ({0}): no checkpoint is signed over it; run `countersign audit verify` and follow the runbook")]
    Broken(String),
    /// Reading, signing or writing failed.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Engine {
    /// Signs the chain's head, or returns the checkpoint already kept there (or the latest one,
    /// when nothing but checkpoints happened since). `None` when the interval came round and
    /// nothing happened since the last one.
    pub async fn checkpoint(
        &self,
        signer: &ReceiptSigner,
        occasion: Occasion,
    ) -> Result<Option<Checkpoint>, CheckpointError> {
        let result = self.try_checkpoint(signer, occasion).await;
        crate::metrics::checkpoint(match &result {
            Ok(Some(_)) => "signed",
            Ok(None) => "skipped",
            Err(CheckpointError::Broken(_)) => "broken",
            Err(_) => "failed",
        });
        result
    }

    async fn try_checkpoint(
        &self,
        signer: &ReceiptSigner,
        occasion: Occasion,
    ) -> Result<Option<Checkpoint>, CheckpointError> {
        let pool = self.pool();
        audit::seal(pool).await?;
        let (head, _) = store::head(pool).await?.ok_or(CheckpointError::Empty)?;
        if let Some(kept) = store::at(pool, head).await? {
            return Ok((occasion == Occasion::Asked).then(|| Checkpoint::of(kept)));
        }
        let latest = store::latest(pool).await?;
        // Nothing but checkpoints since the last one: that one is still the head that matters.
        if let Some(last) = &latest {
            if store::sealed_after_except(pool, last.seq, Action::AuditCheckpoint.as_str()).await? == 0 {
                return Ok((occasion == Occasion::Asked).then(|| Checkpoint::of(last.clone())));
            }
        }
        // Never sign over a chain that does not hold: from the last checkpoint (which must still
        // be there, with its hash) to the end.
        let start = match latest {
            Some(last) => match store::seal_at(pool, last.seq).await? {
                Some(seal) if seal.hash == last.hash => Some((last.seq, last.hash)),
                _ => {
                    return Err(CheckpointError::Broken(format!(
                        "checkpoint #{} is no longer in the chain with its hash",
                        last.seq
                    )))
                }
            },
            None => None,
        };
        let report = audit::verify_after(pool, start, |_, _| {}).await?;
        if let Some((seq, problem)) = &report.first_bad {
            return Err(CheckpointError::Broken(format!("entry #{seq}: {problem}")));
        }
        let (seq, hash) = report.sealed_through.ok_or(CheckpointError::Empty)?;
        let now = self.clock().now();
        let checkpoint = Checkpoint::sign(signer, seq, &hash, now)?;
        let mut tx = pool.begin().await.context("starting to keep a checkpoint")?;
        if !store::insert(&mut tx, &checkpoint.row(now)).await? {
            // Another replica signed this head a moment ago: that one is the checkpoint.
            drop(tx);
            let kept = store::at(pool, seq)
                .await?
                .context("a checkpoint kept by another replica is gone")?;
            return Ok(Some(Checkpoint::of(kept)));
        }
        let mut queued = Vec::new();
        for url in self.checkpoint_receivers() {
            let intent = Intent::Checkpoint { seq, url };
            let id = crate::store::effects::enqueue(&mut tx, intent.row()?).await?;
            queued.push(Queued::of(id, &intent));
        }
        let entry = NewEntry {
            identity: Some("system".into()),
            details: json!({ "seq": seq, "hash": hash, "kid": checkpoint.kid, "at": checkpoint.at, "receivers": queued.len() }),
            ..NewEntry::new(now, Action::AuditCheckpoint, AuditOutcome::Done)
        };
        crate::store::effects::append(&mut tx, entry.row()).await?;
        tx.commit().await.context("keeping a checkpoint")?;
        self.wake_outbox(&queued);
        Ok(Some(checkpoint))
    }

    /// Whether the caller may list checkpoints (the auditor role); a refusal is audited.
    pub async fn authorize_checkpoints(&self, ctx: &super::Context) -> anyhow::Result<Result<(), super::Refusal>> {
        if ctx.actor.roles.iter().any(|r| r.as_str() == super::AUDITOR_ROLE) {
            return Ok(Ok(()));
        }
        let refusal = super::Refusal::new(
            crate::approval::RefusalReason::NotPermitted,
            format!("Reading the audit checkpoints needs the role {}.", super::AUDITOR_ROLE),
        );
        let attempt = super::Attempt {
            identity: &ctx.actor.identity,
            actor: Some(ctx.actor.person.to_string()),
            action: Action::AuditCheckpoint,
            r#ref: None,
            correlation_id: ctx.correlation_id.clone(),
            details: json!({}),
        };
        self.record_refusal(&attempt, &refusal, None).await?;
        Ok(Err(refusal))
    }

    /// Every webhook URL subscribed to `audit.checkpoint`, once each across workflows.
    fn checkpoint_receivers(&self) -> BTreeSet<String> {
        self.policy()
            .workflows
            .values()
            .flat_map(|w| w.webhooks.iter())
            .filter(|h| h.events.contains(&WebhookEvent::Checkpoint))
            .map(|h| h.url.clone())
            .collect()
    }
}

/// Verifies the chain in the background and signs checkpoints of it: a minute after the start
/// (or `every`, if sooner), then every `every`, until `stop` is cancelled. With a receipt key,
/// each round signs a checkpoint when something happened since the last one (verifying first);
/// without one, it verifies what was sealed since its last round. A chain that does not verify
/// is logged at ERROR and counted (`countersign_audit_checkpoints_total{result="broken"}`); any
/// other failure is retried next time.
pub fn spawn_checkpointer(
    tasks: &tokio_util::task::TaskTracker,
    engine: Engine,
    signer: Option<ReceiptSigner>,
    every: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tasks.spawn(async move {
        // The first one soon after a start, so that a server restarted more often than the
        // interval still signs its head.
        let first = tokio::time::Instant::now() + every.min(std::time::Duration::from_secs(60));
        let mut tick = tokio::time::interval_at(first, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut verified: Option<(i64, String)> = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let round = match &signer {
                Some(signer) => engine.checkpoint(signer, Occasion::Interval).await.map(|c| {
                    if let Some(c) = c {
                        tracing::info!(seq = c.seq, hash = %c.hash, "audit checkpoint signed");
                    }
                }),
                None => verify_since(&engine, &mut verified).await,
            };
            match round {
                Ok(()) | Err(CheckpointError::Empty) => {}
                Err(e @ CheckpointError::Broken(_)) => tracing::error!(error = %e, "audit chain verification failed"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "audit checkpoint failed; will retry"),
            }
        }
    })
}

/// Without a key: verifies what was sealed since `verified` and moves it on.
async fn verify_since(engine: &Engine, verified: &mut Option<(i64, String)>) -> Result<(), CheckpointError> {
    let pool = engine.pool();
    let result = async {
        audit::seal(pool).await?;
        let report = audit::verify_after(pool, verified.clone(), |_, _| {}).await?;
        if let Some((seq, problem)) = &report.first_bad {
            return Err(CheckpointError::Broken(format!("entry #{seq}: {problem}")));
        }
        if report.sealed_through.is_some() {
            *verified = report.sealed_through;
        }
        Ok(())
    }
    .await;
    crate::metrics::checkpoint(match &result {
        Ok(()) => "verified",
        Err(CheckpointError::Broken(_)) => "broken",
        Err(_) => "failed",
    });
    result
}
