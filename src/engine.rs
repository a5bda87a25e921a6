//! The use cases: open, amend, vote, cancel, expire, and the reads that check permission.
//! Each change is one transaction that locks the request row and writes its audit entry
//! beside it; an inbound action's idempotency key makes a replay return the first outcome.

pub mod checkpoint;
mod effects;
mod flood;
mod load;
mod notify;
mod open;
mod outcome;
mod read;
mod remind;
mod vote;
mod work;

pub use outcome::{
    AmendmentView, EffectState, EffectView, FieldChange, FieldProblem, FieldView, GroupView, Outcome, PersonRef,
    PreviewView, Refusal, RequestView,
};
pub use read::{HistoryEntry, ListFilter, Page, AUDITOR_ROLE};

use crate::approval::RefusalReason;
use crate::audit::{Action, AuditOutcome, NewEntry};
use crate::chat::address::ChatPlace;
use crate::clock::Clock;
use crate::identity::{Actor, Identity};
use crate::outbox::{Doorbell, Intent, Queued};
use crate::policy::PolicySet;
use crate::store::idempotency;
use anyhow::Context as _;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use work::{Finished, Work};

/// Who is acting, and what ties this action to its inbound request.
#[derive(Clone, Debug)]
pub struct Context {
    /// The resolved caller.
    pub actor: Actor,
    /// Present for actions that may be delivered more than once (button clicks, API POSTs).
    pub idempotency_key: Option<String>,
    /// The inbound request's correlation id, stored in the audit entries it causes.
    pub correlation_id: Option<String>,
    /// The chat channel the action came from: a new request's card is posted there.
    pub origin: Option<ChatPlace>,
    /// Where to send a refusal privately when the platform gives no in-band reply (button
    /// clicks). `None` when the adapter shows the outcome itself (slash commands, console).
    pub reply_to: Option<ReplyTo>,
}

/// An attempt by a caller who is not (or not yet) a known person.
#[derive(Clone, Debug)]
pub struct Attempt<'a> {
    /// Who tried, as far as is known.
    pub identity: &'a Identity,
    /// The person or service, when the identity was resolved.
    pub actor: Option<String>,
    /// What they tried.
    pub action: Action,
    /// The request concerned, if any.
    pub r#ref: Option<&'a str>,
    /// The inbound request's correlation id.
    pub correlation_id: Option<String>,
    /// Anything else worth keeping, as a JSON object (`message` is added).
    pub details: serde_json::Value,
}

/// A private reply target: one person in one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    /// The channel.
    pub place: ChatPlace,
    /// The platform user id.
    pub user: String,
}

impl Context {
    /// A context with neither key nor correlation id.
    pub fn new(actor: Actor) -> Self {
        Context {
            actor,
            idempotency_key: None,
            correlation_id: None,
            origin: None,
            reply_to: None,
        }
    }
}

/// The engine: policy, clock and database, shared by every adapter.
#[derive(Clone, Debug)]
pub struct Engine {
    pool: PgPool,
    policy: Arc<PolicySet>,
    clock: Arc<dyn Clock>,
    outbox_waker: Option<Arc<Doorbell>>,
    flood: Arc<flood::RefusalFlood>,
    targets: Arc<crate::store::targets::Targets>,
}

impl Engine {
    /// An engine over a migrated database.
    pub fn new(pool: PgPool, policy: Arc<PolicySet>, clock: Arc<dyn Clock>) -> Self {
        crate::metrics::workflows(policy.workflows.keys().map(String::as_str));
        Engine {
            pool,
            policy,
            clock,
            outbox_waker: None,
            flood: Arc::default(),
            targets: Arc::default(),
        }
    }

    /// The effect targets this engine may run effects on (`COUNTERSIGN_TARGET_*`).
    pub fn with_targets(mut self, targets: Arc<crate::store::targets::Targets>) -> Self {
        self.targets = targets;
        self
    }

    /// The effect targets.
    pub fn targets(&self) -> &Arc<crate::store::targets::Targets> {
        &self.targets
    }

    /// Tells an in-process outbox worker what every commit queued, so messages leave at once.
    pub fn with_outbox_waker(mut self, waker: Arc<Doorbell>) -> Self {
        self.outbox_waker = Some(waker);
        self
    }

    /// Tells the outbox worker that these messages were committed (with none: that messages
    /// may be waiting).
    pub fn wake_outbox(&self, queued: &[Queued]) {
        if let Some(w) = &self.outbox_waker {
            w.ring(queued);
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The loaded commands/.
    pub fn policy(&self) -> &PolicySet {
        &self.policy
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Runs `f` in one transaction, honouring the context's idempotency key: a replay returns
    /// the first outcome and writes nothing. The key is claimed by the statement that ends the
    /// change, so a first action costs no extra round trip; a replay runs `f` against the state
    /// its first action left (a vote is then refused as already cast) and is rolled back whole.
    async fn atomically<F>(&self, ctx: &Context, f: F) -> anyhow::Result<Outcome>
    where
        F: AsyncFnOnce(&mut Work<'_>) -> anyhow::Result<Outcome>,
    {
        let mut tx = self.pool.begin().await.context("starting a transaction")?;
        let mut work = Work::new(&mut tx);
        let outcome = match f(&mut work).await {
            Ok(outcome) => outcome,
            Err(e) => {
                drop(work);
                drop(tx);
                return match self.first_outcome(ctx).await? {
                    Some(first) => Ok(first),
                    None => Err(e),
                };
            }
        };
        let stored = match &ctx.idempotency_key {
            Some(_) => Some(serde_json::to_value(&outcome).context("encoding an outcome")?),
            None => None,
        };
        let key = ctx.idempotency_key.as_deref().zip(stored.as_ref());
        let queued = match work.finish(key).await? {
            Finished::Written(ids) => ids,
            Finished::Replay => {
                tx.rollback().await.context("rolling back a replay")?;
                return self
                    .first_outcome(ctx)
                    .await?
                    .context("an idempotency key was taken but holds no outcome");
            }
        };
        tx.commit().await.context("committing")?;
        self.wake_outbox(&queued);
        record_metrics(&outcome);
        Ok(outcome)
    }

    /// The outcome a committed action with the context's idempotency key produced.
    async fn first_outcome(&self, ctx: &Context) -> anyhow::Result<Option<Outcome>> {
        match &ctx.idempotency_key {
            Some(key) => idempotency::stored(&self.pool, key).await,
            None => Ok(None),
        }
    }

    /// An audit entry attributed to the context's actor.
    fn entry(&self, ctx: &Context, action: Action, outcome: AuditOutcome) -> NewEntry {
        NewEntry {
            actor: Some(ctx.actor.person.to_string()),
            identity: Some(ctx.actor.identity.to_string()),
            correlation_id: ctx.correlation_id.clone(),
            ..NewEntry::new(self.clock.now(), action, outcome)
        }
    }

    /// Audits a refused attempt and returns it as the outcome.
    async fn refuse(
        &self,
        work: &mut Work<'_>,
        ctx: &Context,
        action: Action,
        subject: Subject<'_>,
        refusal: Refusal,
    ) -> anyhow::Result<Outcome> {
        let mut e = self.entry(ctx, action, AuditOutcome::Refused(refusal.reason));
        subject.fill(&mut e);
        e.details = json!({ "message": refusal.message, "fields": refusal.fields });
        if let Some(wf) = subject.workflow {
            e.details["workflow"] = json!(wf);
        }
        work.audit(e);
        if let Some(to) = &ctx.reply_to {
            work.send(ephemeral(to, &refusal));
        }
        Ok(Outcome::Refused { refusal })
    }

    /// Audits an attempt by an identity the directory does not know, and says what to do.
    pub async fn refuse_unauthenticated(
        &self,
        identity: &Identity,
        attempted: Action,
        correlation_id: Option<String>,
        reply_to: Option<&ReplyTo>,
    ) -> anyhow::Result<Refusal> {
        let refusal = Refusal::new(
            RefusalReason::Unauthenticated,
            format!(
                "Countersign does not know who you are ({identity}). Ask an administrator to add \
                 this identity to commands/people.toml."
            ),
        );
        let attempt = Attempt {
            identity,
            actor: None,
            action: attempted,
            r#ref: None,
            correlation_id,
            details: json!({}),
        };
        self.record_refusal(&attempt, &refusal, reply_to).await?;
        Ok(refusal)
    }

    /// Audits a refused attempt that never reached a use case (a bad API token, an unknown chat
    /// identity, a malformed body), in a transaction of its own.
    pub async fn record_refusal(
        &self,
        attempt: &Attempt<'_>,
        refusal: &Refusal,
        reply_to: Option<&ReplyTo>,
    ) -> anyhow::Result<()> {
        let now = self.clock.now();
        let mut entries = Vec::new();
        let mut write = true;
        if refusal.reason == RefusalReason::Unauthenticated {
            let identity = attempt.identity.to_string();
            let (first, closed) = self.flood.admit(&identity, attempt.action, &refusal.message, now);
            write = first;
            entries.extend(closed.iter().map(|c| suppressed_entry(c, now)));
        }
        let mut details = attempt.details.clone();
        details["message"] = json!(refusal.message);
        if write {
            entries.push(NewEntry {
                actor: attempt.actor.clone(),
                identity: Some(attempt.identity.to_string()),
                r#ref: attempt.r#ref.map(str::to_owned),
                correlation_id: attempt.correlation_id.clone(),
                details,
                ..NewEntry::new(now, attempt.action, AuditOutcome::Refused(refusal.reason))
            });
        }
        // A counted refusal with nobody to answer writes nothing: a flood costs no round trip.
        if entries.is_empty() && reply_to.is_none() {
            crate::metrics::refusal(refusal.reason);
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::new(&mut conn);
        for e in entries {
            work.audit(e);
        }
        if let Some(to) = reply_to {
            work.send(ephemeral(to, refusal));
        }
        self.finish_alone(work).await?;
        crate::metrics::refusal(refusal.reason);
        Ok(())
    }

    /// Ends a unit of work on a connection outside any transaction (its closing statement
    /// commits on its own), and rings for the messages it queued.
    async fn finish_alone(&self, work: Work<'_>) -> anyhow::Result<()> {
        if let Finished::Written(queued) = work.finish(None).await? {
            self.wake_outbox(&queued);
        }
        Ok(())
    }

    /// Queues one message on its own (a reply that records nothing, such as a request's details).
    pub async fn send(&self, intent: &Intent) -> anyhow::Result<()> {
        let mut conn = self.pool.acquire().await?;
        let id = crate::store::effects::enqueue(&mut conn, intent.row()?).await?;
        self.wake_outbox(&[Queued::of(id, intent)]);
        Ok(())
    }
}

/// The entry that stands for a minute's unauthenticated attempts counted instead of written.
fn suppressed_entry(c: &flood::Suppressed, now: chrono::DateTime<chrono::Utc>) -> NewEntry {
    NewEntry {
        identity: Some(c.identity.clone()),
        details: json!({
            "repeated": c.count,
            "from": c.from,
            "to": c.to,
            "messages": c.messages,
            "message": format!(
                "{} more attempts like the one recorded before were refused in this minute; \
                 counted, not recorded one by one",
                c.count
            ),
        }),
        ..NewEntry::new(now, c.action, AuditOutcome::Refused(RefusalReason::Unauthenticated))
    }
}

impl Engine {
    /// Writes the summaries of the minutes of unauthenticated refusals that have ended (the
    /// server calls it periodically, so a flood that stops is still summed up).
    pub async fn flush_refusal_counts(&self) -> anyhow::Result<usize> {
        self.write_refusal_counts(self.clock.now()).await
    }

    /// Writes every count, the minutes still open included (at shutdown).
    pub async fn flush_all_refusal_counts(&self) -> anyhow::Result<usize> {
        self.write_refusal_counts(self.clock.now() + chrono::TimeDelta::minutes(1))
            .await
    }

    async fn write_refusal_counts(&self, until: chrono::DateTime<chrono::Utc>) -> anyhow::Result<usize> {
        let closed = self.flood.flush(until);
        if closed.is_empty() {
            return Ok(0);
        }
        let now = self.clock.now();
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::new(&mut conn);
        for c in &closed {
            work.audit(suppressed_entry(c, now));
        }
        self.finish_alone(work).await?;
        Ok(closed.len())
    }
}

/// The private reply that tells a person why their attempt was refused.
fn ephemeral(to: &ReplyTo, refusal: &Refusal) -> Intent {
    Intent::Ephemeral {
        place: to.place.clone(),
        user: to.user.clone(),
        text: refusal.message.clone(),
    }
}

/// Counts a committed outcome: decisions by workflow and state, refusals by reason.
pub(crate) fn record_metrics(outcome: &Outcome) {
    if let Some(r) = outcome.refusal() {
        crate::metrics::refusal(r.reason);
    }
    match outcome {
        Outcome::Opened { .. } | Outcome::Amended { .. } | Outcome::Refused { .. } | Outcome::Retried { .. } => {}
        Outcome::Voted { request, .. } | Outcome::Cancelled { request } | Outcome::Expired { request } => {
            if request.status.is_final() {
                crate::metrics::decision(&request.workflow, request.status);
            }
        }
    }
}

/// What an audit entry is about: a ref and, when known, its version and rule.
#[derive(Clone, Debug, Default)]
struct Subject<'a> {
    r#ref: Option<String>,
    workflow: Option<&'a str>,
    version: Option<i32>,
    rule: Option<&'a str>,
    policy_hash: Option<&'a str>,
}

impl Subject<'_> {
    fn fill(&self, e: &mut NewEntry) {
        e.r#ref = self.r#ref.clone();
        e.version = self.version;
        e.rule = self.rule.map(str::to_owned);
        e.policy_hash = self.policy_hash.map(str::to_owned);
    }
}
