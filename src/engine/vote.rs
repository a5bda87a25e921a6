//! Votes, cancellation and expiry: the actions that can bring a request to its final state.

use super::load::Loaded;
use super::outcome::{Outcome, Refusal};
use super::work::Work;
use super::{Context, Engine, Subject};
use crate::approval::{Ref, RefusalReason, Status, VoteEffect, VoteKind};
use crate::audit::{Action, AuditOutcome};
use crate::store::requests::{self as rows, VoteRow};
use serde_json::json;

impl Engine {
    /// Casts a vote on `version` (the version the voter saw; `None` means the current one).
    #[tracing::instrument(
        name = "vote",
        skip_all,
        fields(person = %ctx.actor.person, request = %crate::policy::input::quoted(r#ref), ?version, ?kind)
    )]
    pub async fn vote(
        &self,
        ctx: &Context,
        r#ref: &str,
        version: Option<i32>,
        kind: VoteKind,
        reason: Option<&str>,
    ) -> anyhow::Result<Outcome> {
        let started = std::time::Instant::now();
        let outcome = self
            .atomically(ctx, async |work| {
                self.vote_in(work, ctx, r#ref, version, kind, reason).await
            })
            .await;
        crate::metrics::vote(kind, started.elapsed());
        outcome
    }

    async fn vote_in(
        &self,
        work: &mut Work<'_>,
        ctx: &Context,
        r#ref: &str,
        version: Option<i32>,
        kind: VoteKind,
        reason: Option<&str>,
    ) -> anyhow::Result<Outcome> {
        let action = match kind {
            VoteKind::Approve => Action::VoteApprove,
            VoteKind::Reject => Action::VoteReject,
        };
        let Some(mut l) = self.load_locked(work, r#ref).await? else {
            return self.refuse_unknown(work, ctx, action, r#ref).await;
        };
        self.expire_if_due(work, &mut l).await?;
        let seen = version.unwrap_or(l.row.version);
        let voter = &ctx.actor;
        let effect = match u32::try_from(seen) {
            Ok(seen) => l.domain.vote(&voter.person, &voter.roles, seen, kind, reason),
            Err(_) => Err(RefusalReason::StaleVersion),
        };
        let effect = match effect {
            Ok(effect) => effect,
            Err(reason) => {
                let refusal = self.domain_refusal(reason, &l, ctx, action);
                let mut subject = l.subject();
                subject.version = Some(seen);
                return self.refuse(work, ctx, action, subject, refusal).await;
            }
        };
        let now = self.clock.now();
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        let vote = VoteRow {
            voter: voter.person.clone(),
            identity: voter.identity.to_string(),
            kind,
            roles: voter.roles.iter().cloned().collect(),
            reason: reason.map(str::to_owned),
            at: now,
        };
        l.votes.push(vote.clone());
        work.cast(l.row.id, l.row.version, vote);
        let mut e = self.entry(ctx, action, AuditOutcome::Done);
        l.subject().fill(&mut e);
        e.details = json!({ "reason": reason, "progress": l.domain.progress().summary() });
        work.audit(e);
        let decided = match effect {
            VoteEffect::Counted { approved: false } => None,
            VoteEffect::Counted { approved: true } => Some(Action::RequestApproved),
            VoteEffect::Rejected => Some(Action::RequestRejected),
        };
        if let Some(final_action) = decided {
            self.finalise(work, &mut l, Some(voter.person.as_str()), reason);
            if final_action == Action::RequestApproved {
                self.queue_effect(work, &l, now).await?;
            }
            let approvers = l.approver_ids();
            let mut e = self.entry(ctx, final_action, AuditOutcome::Done);
            l.subject().fill(&mut e);
            e.details = json!({ "approvers": approvers, "reason": reason });
            work.audit(e);
        }
        self.notify(work, &l, false);
        Ok(Outcome::Voted {
            request: self.view(&l, None),
            kind,
            voter: self.person_ref(voter.person.as_str()),
        })
    }

    /// The requester withdraws a pending request.
    #[tracing::instrument(name = "cancel", skip_all, fields(person = %ctx.actor.person, request = %crate::policy::input::quoted(r#ref)))]
    pub async fn cancel(&self, ctx: &Context, r#ref: &str, reason: Option<&str>) -> anyhow::Result<Outcome> {
        self.atomically(ctx, async |work| {
            let Some(mut l) = self.load_locked(work, r#ref).await? else {
                return self.refuse_unknown(work, ctx, Action::RequestCancelled, r#ref).await;
            };
            self.expire_if_due(work, &mut l).await?;
            if let Err(why) = l.domain.cancel(&ctx.actor.person, reason) {
                let refusal = self.domain_refusal(why, &l, ctx, Action::RequestCancelled);
                return self
                    .refuse(work, ctx, Action::RequestCancelled, l.subject(), refusal)
                    .await;
            }
            let reason = reason.map(str::trim).filter(|r| !r.is_empty());
            self.finalise(work, &mut l, Some(ctx.actor.person.as_str()), reason);
            let mut e = self.entry(ctx, Action::RequestCancelled, AuditOutcome::Done);
            l.subject().fill(&mut e);
            e.details = json!({ "reason": reason });
            work.audit(e);
            self.notify(work, &l, false);
            Ok(Outcome::Cancelled {
                request: self.view(&l, reason.map(str::to_owned)),
            })
        })
        .await
    }

    /// Expires every pending request past its expiry; returns what expired. Each request is its
    /// own transaction, so one failure does not hold back the rest.
    #[tracing::instrument(name = "expire_due", skip_all)]
    pub async fn expire_due(&self) -> anyhow::Result<Vec<Outcome>> {
        let due = rows::due_for_expiry(&self.pool, self.clock.now(), 500).await?;
        let mut expired = Vec::new();
        for r in due {
            let mut tx = self.pool.begin().await?;
            let mut work = Work::new(&mut tx);
            if let Some(mut l) = self.load_locked(&mut work, &r).await? {
                if self.expire_if_due(&mut work, &mut l).await? {
                    crate::metrics::decision(&l.row.workflow, Status::Expired);
                    expired.push(Outcome::Expired {
                        request: self.view(&l, None),
                    });
                }
            }
            let queued = work.finish(None).await?;
            tx.commit().await?;
            if let super::work::Finished::Written(ids) = queued {
                self.wake_outbox(&ids);
            }
        }
        Ok(expired)
    }

    /// Audits an attempt on a ref that does not exist.
    pub(super) async fn refuse_unknown(
        &self,
        work: &mut Work<'_>,
        ctx: &Context,
        action: Action,
        r#ref: &str,
    ) -> anyhow::Result<Outcome> {
        // A malformed ref is not audited as a ref: the entry names no request, and its message
        // quotes a short excerpt of what was typed.
        let (known, reason, message) = match Ref::parse(r#ref) {
            Ok(r) => (
                Some(r.to_string()),
                RefusalReason::UnknownRef,
                format!("There is no request {r}."),
            ),
            Err(message) => (None, RefusalReason::InvalidInput, message),
        };
        let refusal = Refusal::new(reason, message);
        let subject = Subject {
            r#ref: known.clone(),
            ..Subject::default()
        };
        self.refuse(work, ctx, action, subject, refusal).await
    }

    /// What a person is told when the domain refuses their action on a request.
    pub(super) fn domain_refusal(&self, reason: RefusalReason, l: &Loaded, ctx: &Context, action: Action) -> Refusal {
        let r = &l.row.r#ref;
        let message = match reason {
            RefusalReason::AlreadyDecided => format!("{r} is already {}; nothing changed.", l.domain.status),
            RefusalReason::StaleVersion => format!(
                "{r} was amended: the card you acted on shows an earlier version, and version {} is current. \
                 Look at it again (show {r}) before you vote.",
                l.row.version
            ),
            RefusalReason::SelfApproval if action == Action::VoteReject => {
                format!("You cannot vote on your own request {r}; cancel it instead (cancel {r}).")
            }
            RefusalReason::SelfApproval => format!("You cannot approve your own request {r}."),
            RefusalReason::NotPermitted => match action {
                Action::VoteApprove | Action::VoteReject => {
                    let roles: Vec<String> = l.domain.groups.iter().map(|g| g.role.to_string()).collect();
                    let held: Vec<String> = ctx.actor.roles.iter().map(|r| r.to_string()).collect();
                    format!(
                        "You cannot vote on {r}: that needs the role {}, and you hold {}.",
                        roles.join(" or "),
                        if held.is_empty() {
                            "no role".to_string()
                        } else {
                            held.join(", ")
                        }
                    )
                }
                _ => format!(
                    "Only the requester can {} {r}.",
                    if action == Action::RequestCancelled {
                        "cancel"
                    } else {
                        "amend"
                    }
                ),
            },
            RefusalReason::AlreadyVoted => format!("You already voted on {r} (version {}).", l.row.version),
            RefusalReason::GroupFull => format!(
                "Your approval is not needed on {r}: every group you can fill is already met; still needed: {}.",
                l.domain.progress().missing()
            ),
            RefusalReason::ReasonRequired => format!("A reject needs a reason: reject {r} <reason>."),
            RefusalReason::InvalidInput => format!(
                "The reason is too long: at most {} characters.",
                crate::approval::MAX_REASON_CHARS
            ),
            RefusalReason::UnknownRef | RefusalReason::Unauthenticated => format!("{r}: {reason}"),
        };
        Refusal::new(reason, message)
    }
}
