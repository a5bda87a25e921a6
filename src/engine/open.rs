//! Opening and amending requests.

use super::load::{expiry, groups_to};
use super::outcome::{FieldProblem, Outcome, Refusal};
use super::work::Work;
use super::{Context, Engine, Subject};
use crate::approval::{Ref, RefusalReason};
use crate::audit::{Action, AuditOutcome};
use crate::policy::{FieldError, Fields, Workflow};
use crate::store::requests::{self as rows, PreviousVersion, VersionRow};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sqlx::types::Json;

/// Raw `field=value` pairs as typed by a person.
pub type RawFields = [(String, String)];

fn invalid(message: String, errors: Vec<FieldError>) -> Refusal {
    Refusal {
        reason: RefusalReason::InvalidInput,
        message,
        fields: errors
            .into_iter()
            .map(|e| FieldProblem {
                field: e.field,
                message: e.message,
            })
            .collect(),
    }
}

/// Field values as a JSON object of their display forms, for audit details.
fn shown(fields: &Fields) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
            .collect::<Map<_, _>>(),
    )
}

fn roles_list(roles: &[crate::policy::Role]) -> String {
    roles.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" or ")
}

impl Engine {
    /// Opens a request of `workflow` with the typed `raw` fields.
    #[tracing::instrument(name = "open", skip_all, fields(person = %ctx.actor.person, workflow = %crate::policy::input::quoted(workflow)))]
    pub async fn open(&self, ctx: &Context, workflow: &str, raw: &RawFields) -> anyhow::Result<Outcome> {
        self.atomically(ctx, async |work| self.open_in(work, ctx, workflow, raw).await)
            .await
    }

    async fn open_in(
        &self,
        work: &mut Work<'_>,
        ctx: &Context,
        workflow: &str,
        raw: &RawFields,
    ) -> anyhow::Result<Outcome> {
        let refuse = async |work: &mut Work<'_>, refusal| {
            let subject = Subject {
                workflow: Some(workflow),
                ..Subject::default()
            };
            self.refuse(work, ctx, Action::RequestOpened, subject, refusal).await
        };
        let Some(wf) = self.policy.workflow(workflow) else {
            let known = self.policy.workflows.keys().cloned().collect::<Vec<_>>().join(", ");
            let msg = format!(
                "There is no workflow \"{}\". Workflows: {known}.",
                crate::policy::input::quoted(workflow)
            );
            return refuse(work, Refusal::new(RefusalReason::InvalidInput, msg)).await;
        };
        if !ctx.actor.holds_any(&wf.access.request) {
            let msg = format!(
                "You cannot open {} requests: that needs the role {}.",
                wf.id,
                roles_list(&wf.access.request)
            );
            return refuse(work, Refusal::new(RefusalReason::NotPermitted, msg)).await;
        }
        let fields = match wf.parse_fields(raw) {
            Ok(f) => f,
            Err(errors) => {
                let msg = format!(
                    "The {} request was not opened; correct these fields and try again:",
                    wf.id
                );
                return refuse(work, invalid(msg, errors)).await;
            }
        };
        let now = self.clock.now();
        let number = rows::next_number(work, &wf.id).await?;
        let r#ref = Ref::new(&wf.prefix, number as u64).to_string();
        let id = rows::insert_request(
            work,
            &r#ref,
            &wf.id,
            number,
            ctx.actor.person.as_str(),
            &ctx.actor.identity.to_string(),
            now,
            expiry(wf, now)?,
            ctx.origin.as_ref(),
        )
        .await?;
        let mut version = version_row(wf, &fields, 1, ctx, now);
        version.preview = self.preview_effect(work, ctx, &r#ref, &version).await?;
        rows::insert_version(work, id, &version).await?;
        let l = self
            .load_locked(work, &r#ref)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{ref} vanished"))?;
        let mut e = self.entry(ctx, Action::RequestOpened, AuditOutcome::Done);
        l.subject().fill(&mut e);
        e.details = json!({ "workflow": wf.id, "fields": shown(&fields) });
        work.audit(e);
        self.notify(work, &l, true);
        Ok(Outcome::Opened {
            request: self.view(&l, None),
        })
    }

    /// Amends a pending request: the requester changes fields; a new version voids earlier votes.
    #[tracing::instrument(name = "amend", skip_all, fields(person = %ctx.actor.person, request = %crate::policy::input::quoted(r#ref)))]
    pub async fn amend(&self, ctx: &Context, r#ref: &str, raw: &RawFields) -> anyhow::Result<Outcome> {
        self.atomically(ctx, async |work| self.amend_in(work, ctx, r#ref, raw).await)
            .await
    }

    async fn amend_in(
        &self,
        work: &mut Work<'_>,
        ctx: &Context,
        r#ref: &str,
        raw: &RawFields,
    ) -> anyhow::Result<Outcome> {
        let Some(mut l) = self.load_locked(work, r#ref).await? else {
            return self.refuse_unknown(work, ctx, Action::RequestAmended, r#ref).await;
        };
        self.expire_if_due(work, &mut l).await?;
        // Status and ownership first (a stranger learns nothing about the fields), then input.
        if let Err(reason) = l.domain.clone().amend(&ctx.actor.person, Vec::new()) {
            let refusal = self.domain_refusal(reason, &l, ctx, Action::RequestAmended);
            return self
                .refuse(work, ctx, Action::RequestAmended, l.subject(), refusal)
                .await;
        }
        let Some(wf) = self.policy.workflow(&l.row.workflow) else {
            let msg = format!(
                "The workflow {} is no longer configured; {} cannot be amended.",
                l.row.workflow, l.row.r#ref
            );
            return self
                .refuse(
                    work,
                    ctx,
                    Action::RequestAmended,
                    l.subject(),
                    Refusal::new(RefusalReason::InvalidInput, msg),
                )
                .await;
        };
        let fields = match amended_fields(wf, &l.version.fields.0, raw) {
            Ok(f) => f,
            Err(refusal) => {
                return self
                    .refuse(work, ctx, Action::RequestAmended, l.subject(), refusal)
                    .await
            }
        };
        let rule = wf.select_rule(&fields);
        let new_version = l
            .domain
            .amend(&ctx.actor.person, rule.approvals.clone())
            .map_err(|r| anyhow::anyhow!("amend refused after its checks passed: {r}"))?;
        let previous = l.version.version;
        let replaced = PreviousVersion {
            fields: l.version.fields.0.clone(),
            rule: l.version.rule.clone(),
            votes: l.votes.len() as i64,
        };
        l.version = version_row(wf, &fields, i32::try_from(new_version)?, ctx, self.clock.now());
        l.version.previous = Some(replaced);
        l.version.preview = self
            .preview_effect(work, ctx, &l.row.r#ref.to_string(), &l.version)
            .await?;
        rows::insert_version(work, l.row.id, &l.version).await?;
        rows::set_version(work, l.row.id, l.version.version).await?;
        l.row.version = l.version.version;
        l.votes.clear();
        let mut e = self.entry(ctx, Action::RequestAmended, AuditOutcome::Done);
        l.subject().fill(&mut e);
        let changed: Vec<&String> = raw.iter().map(|(k, _)| k).collect();
        e.details = json!({ "previous_version": previous, "changed": changed, "fields": shown(&fields) });
        work.audit(e);
        self.notify(work, &l, false);
        Ok(Outcome::Amended {
            request: self.view(&l, None),
        })
    }
}

/// A version of a request under the rule that its fields select.
fn version_row(wf: &Workflow, fields: &Fields, version: i32, ctx: &Context, now: DateTime<Utc>) -> VersionRow {
    let rule = wf.select_rule(fields);
    VersionRow {
        version,
        fields: Json(fields.clone()),
        rule: rule.name.clone(),
        groups: Json(groups_to(&rule.approvals)),
        policy_hash: wf.policy_hash.clone(),
        created_by: ctx.actor.person.to_string(),
        created_at: now,
        previous: None,
        effect: wf.effect.clone(),
        effect_run: None,
        preview: None,
    }
}

/// Validates an amendment into the full new field set.
fn amended_fields(wf: &Workflow, current: &Fields, raw: &RawFields) -> Result<Fields, Refusal> {
    if raw.is_empty() {
        let msg = format!("Say what to change, e.g. amend {}-1 field=value.", wf.prefix);
        return Err(Refusal::new(RefusalReason::InvalidInput, msg));
    }
    let fields = wf.amend_fields(current, raw).map_err(|errors| {
        invalid(
            "Nothing was amended; correct these fields and try again:".to_string(),
            errors,
        )
    })?;
    if &fields == current {
        return Err(Refusal::new(
            RefusalReason::InvalidInput,
            "Nothing was amended: the new values equal the current ones.",
        ));
    }
    Ok(fields)
}
