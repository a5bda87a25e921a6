//! The effect of an approved version, in the deciding transaction: on the bot's own database it
//! runs right there (the decision, the effect and their audit entries commit together or not at
//! all); on another target it is queued (its row and its outbox message commit with the
//! decision) and `effect::runner` runs it.

use super::load::Loaded;
use super::outcome::{EffectState, EffectView, PreviewView};
use super::work::Work;
use super::Engine;
use super::{Context, Outcome, Refusal};
use crate::approval::RefusalReason;
use crate::audit::{Action, AuditOutcome};
use crate::effect::{bind, Ended, Inputs};
use crate::outbox::Intent;
use crate::policy::effect::{Effect, Param};
use crate::store::request_effects::{self, EffectPreview, EffectRun, EffectStatus};
use crate::store::requests::VersionRow;
use crate::store::targets;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::time::Instant;

impl Engine {
    /// Runs or queues the effect frozen with the approved version, if it has one.
    pub(super) async fn queue_effect(&self, work: &mut Work<'_>, l: &Loaded, now: DateTime<Utc>) -> anyhow::Result<()> {
        let (id, version) = (l.row.id, l.row.version);
        let Some(effect) = request_effects::version_effect(work, id, version).await? else {
            return Ok(());
        };
        if effect.target.is_own() {
            self.run_here(work, l, &effect, now).await?;
            return Ok(());
        }
        request_effects::queue(work, id, version, &effect, now).await?;
        work.send(Intent::Effect {
            r#ref: l.row.r#ref.to_string(),
            version,
        });
        Ok(())
    }

    /// Runs the effect on the bot's own database in the caller's transaction; returns how it
    /// ended, as the card shows it.
    async fn run_here(
        &self,
        work: &mut Work<'_>,
        l: &Loaded,
        effect: &Effect,
        now: DateTime<Utc>,
    ) -> anyhow::Result<EffectRun> {
        let r#ref = l.row.r#ref.to_string();
        let params = bind(effect, &l.effect_inputs(&r#ref, now));
        let started = Instant::now();
        let ledger = "the decision's own transaction";
        let ended = match targets::execute_here(work, &effect.positional, &params, effect.expect_rows.count()).await {
            Ok(ran) => Ended::of(ran, ledger),
            Err(e) => Ended::failed(e.to_string(), ledger),
        };
        request_effects::record_here(
            work,
            l.row.id,
            l.row.version,
            effect,
            ended.status,
            ended.stored_rows(),
            ended.error.as_deref(),
            now,
        )
        .await?;
        let mut e = ended.entry(now, &l.row.workflow, effect, started.elapsed());
        l.subject().fill(&mut e);
        work.audit(e);
        if ended.status == EffectStatus::Failed {
            for intent in self.tell_owners(&r#ref, &l.row.workflow) {
                work.send(intent);
            }
        }
        Ok(EffectRun {
            status: ended.status.as_str().to_string(),
            rows: ended.stored_rows(),
            error: ended.error,
        })
    }

    /// `retry REF`: runs a failed (or stalled) effect of an approved request again, under the
    /// same exactly-once rule. The workflow's owner team and its approvers may.
    #[tracing::instrument(name = "retry", skip_all, fields(person = %ctx.actor.person, request = %crate::policy::input::quoted(r#ref)))]
    pub async fn retry_effect(&self, ctx: &Context, r#ref: &str) -> anyhow::Result<Outcome> {
        self.atomically(ctx, async |work| {
            let Some(mut l) = self.load_locked(work, r#ref).await? else {
                return self.refuse_unknown(work, ctx, Action::EffectRetried, r#ref).await;
            };
            if let Some(refusal) = self.why_not_retry(&l, ctx) {
                return self
                    .refuse(work, ctx, Action::EffectRetried, l.subject(), refusal)
                    .await;
            }
            let effect = l.version.effect.clone().expect("checked by why_not_retry");
            let now = self.clock.now();
            let run = if effect.target.is_own() {
                self.run_here(work, &l, &effect, now).await?
            } else {
                request_effects::requeue(work, l.row.id, l.row.version, &effect, now).await?;
                work.send(Intent::Effect {
                    r#ref: l.row.r#ref.to_string(),
                    version: l.row.version,
                });
                EffectRun {
                    status: EffectStatus::Pending.as_str().to_string(),
                    rows: None,
                    error: None,
                }
            };
            let mut e = self.entry(ctx, Action::EffectRetried, AuditOutcome::Done);
            l.subject().fill(&mut e);
            e.details = json!({ "target": effect.target.as_str(), "statement_sha256": effect.statement_sha256() });
            work.audit(e);
            l.version.effect_run = Some(run);
            Ok(Outcome::Retried {
                request: self.view(&l, None),
            })
        })
        .await
    }

    /// Why `ctx` may not retry the effect of `l`, if they may not.
    fn why_not_retry(&self, l: &Loaded, ctx: &Context) -> Option<Refusal> {
        let r = &l.row.r#ref;
        let wf = self.policy.workflow(&l.row.workflow);
        let owners = wf.and_then(|w| self.policy.directory.teams.get(&w.owner));
        let owner = owners.is_some_and(|t| t.members.contains(&ctx.actor.person));
        let approver = wf.is_some_and(|w| {
            w.rules
                .iter()
                .flat_map(|rule| &rule.approvals)
                .any(|g| ctx.actor.roles.contains(&g.role))
        });
        if !owner && !approver {
            let team = wf.map_or_else(|| "the owner team".to_string(), |w| w.owner.to_string());
            return Some(Refusal::new(
                RefusalReason::NotPermitted,
                format!(
                    "Running an effect again needs the owner team ({team}) or an approver of {}.",
                    l.row.workflow
                ),
            ));
        }
        let status = l.row.status;
        let (reason, message) = match (&l.version.effect, &l.version.effect_run) {
            (None, _) => (RefusalReason::InvalidInput, format!("{r} has no effect to run.")),
            (Some(_), _) if status != crate::approval::Status::Approved => (
                RefusalReason::InvalidInput,
                format!("{r} is {status}: an effect runs once its request is approved."),
            ),
            (Some(_), Some(run)) if run.status == EffectStatus::Executed.as_str() => (
                RefusalReason::AlreadyDecided,
                match run.rows.unwrap_or_default() {
                    1 => format!("The effect of {r} already ran (1 row changed): it runs once."),
                    n => format!("The effect of {r} already ran ({n} rows changed): it runs once."),
                },
            ),
            _ => return None,
        };
        Some(Refusal::new(reason, message))
    }
}

impl Engine {
    /// Tries the effect of a version being written and rolls it back, for the card: the rows it
    /// would change or why it would fail (`None` when it has no effect or its preview is off).
    pub(super) async fn preview_effect(
        &self,
        work: &mut Work<'_>,
        ctx: &Context,
        r#ref: &str,
        v: &VersionRow,
    ) -> anyhow::Result<Option<EffectPreview>> {
        let Some(effect) = v.effect.as_ref().filter(|e| e.preview) else {
            return Ok(None);
        };
        let now = self.clock.now();
        let requester = ctx.actor.person.to_string();
        let inputs = Inputs {
            r#ref,
            version: v.version,
            requester: &requester,
            approvers: Vec::new(),
            decided_at: now,
            fields: &v.fields.0,
        };
        let params = bind(effect, &inputs);
        let tried = if effect.target.is_own() {
            targets::preview_here(work, &effect.positional, &params).await
        } else {
            match self.targets.pool(&effect.target) {
                Ok(pool) => targets::preview(&pool, effect.target.as_str(), &effect.positional, &params).await,
                Err(e) => Err(e),
            }
        };
        let preview = match tried {
            Ok(rows) => EffectPreview {
                rows: Some(i64::try_from(rows).unwrap_or(i64::MAX)),
                error: None,
            },
            Err(e) => EffectPreview {
                rows: None,
                error: Some(e.to_string()),
            },
        };
        let mut e = crate::audit::NewEntry {
            identity: Some("system".into()),
            r#ref: Some(r#ref.to_string()),
            version: Some(v.version),
            ..crate::audit::NewEntry::new(now, Action::EffectPreviewed, AuditOutcome::Done)
        };
        e.details = json!({
            "target": effect.target.as_str(),
            "statement_sha256": effect.statement_sha256(),
            "rows": preview.rows,
            "error": preview.error,
        });
        work.audit(e);
        Ok(Some(preview))
    }
}

/// The card's view of the effect frozen with the loaded version.
pub(super) fn effect_view(l: &Loaded) -> Option<EffectView> {
    let effect = l.version.effect.as_ref()?;
    let r#ref = l.row.r#ref.to_string();
    let bound = bind(
        effect,
        &l.effect_inputs(&r#ref, l.row.decided_at.unwrap_or(l.row.created_at)),
    );
    let approved = l.row.status == crate::approval::Status::Approved;
    let values = effect
        .params
        .iter()
        .zip(&bound)
        .map(|(p, b)| {
            let shown = match p {
                Param::Approvers if !approved => "(the approvers)".to_string(),
                Param::DecidedAt if !approved => "(the decision time)".to_string(),
                _ => b.to_string(),
            };
            (format!(":{}", p.name()), shown)
        })
        .collect();
    let state = match (&l.version.effect_run, approved) {
        (_, false) => EffectState::NotRun,
        (None, true) => EffectState::Waiting,
        (Some(run), true) => match run.status.as_str() {
            "executed" => EffectState::Executed {
                rows: run.rows.unwrap_or_default(),
            },
            "failed" => EffectState::Failed {
                error: run.error.clone().unwrap_or_default(),
            },
            _ => EffectState::Waiting,
        },
    };
    Some(EffectView {
        preview: match (effect.preview, &l.version.preview) {
            (false, _) => PreviewView::Off,
            (true, None) => PreviewView::None,
            (true, Some(p)) => match (&p.error, p.rows) {
                (Some(error), _) => PreviewView::WouldFail { error: error.clone() },
                (None, rows) => PreviewView::WouldChange {
                    rows: rows.unwrap_or_default(),
                },
            },
        },
        target: effect.target.to_string(),
        sql: effect.sql.clone(),
        values,
        expect_rows: effect.expect_rows.count(),
        state,
    })
}
