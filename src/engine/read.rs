//! Reads that check permission (show, list, history) and the record of which policy is loaded.

use super::outcome::{Refusal, RequestView};
use super::work::Work;
use super::{Context, Engine, Subject};
use crate::approval::{Ref, RefusalReason, Status};
use crate::audit::{self, Action, AuditOutcome, NewEntry, StoredEntry};
use crate::identity::Actor;
use crate::policy::Workflow;
use crate::store::requests::{self as rows};
use crate::store::snapshot::{self, ListQuery};
use anyhow::Context as _;
use serde_json::json;
use sqlx::PgConnection;
use std::collections::HashMap;

/// Which requests `list` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ListFilter {
    /// Pending requests the caller may see.
    #[default]
    Pending,
    /// Requests the caller opened.
    Mine,
    /// Every request the caller may see.
    All,
}

/// The role that may read the whole audit log through the API.
pub const AUDITOR_ROLE: &str = "auditor";

/// Which requests one page of a listing holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// Only this status.
    pub status: Option<Status>,
    /// Only the caller's own requests.
    pub mine: bool,
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only requests older than this cursor (from the previous page).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// One line of a request's trail.
pub type HistoryEntry = StoredEntry;

/// Whether `actor` may see requests of `wf` opened by `requester`.
fn may_view(actor: &Actor, wf: Option<&Workflow>, requester: &str) -> bool {
    if actor.person.as_str() == requester {
        return true;
    }
    wf.is_some_and(|wf| actor.holds_any(&wf.access.view) || wf.approver_roles().iter().any(|r| actor.roles.contains(r)))
}

impl Engine {
    /// The card of one request, for those allowed to see it. A refused view is audited.
    #[tracing::instrument(name = "show", skip_all, fields(person = %ctx.actor.person, request = %crate::policy::input::quoted(r#ref)))]
    pub async fn show(&self, ctx: &Context, r#ref: &str) -> anyhow::Result<Result<RequestView, Refusal>> {
        let mut conn = self.pool.acquire().await?;
        let row = match self.viewable(&mut conn, ctx, r#ref).await? {
            Ok(row) => row,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let view = self
            .current_views(&[row.r#ref.to_string()])
            .await?
            .remove(&row.r#ref.to_string());
        Ok(Ok(view.with_context(|| format!("{ref} vanished"))?))
    }

    /// The audit trail of one request, for those allowed to see it.
    #[tracing::instrument(name = "history", skip_all, fields(person = %ctx.actor.person, request = %crate::policy::input::quoted(r#ref)))]
    pub async fn history(&self, ctx: &Context, r#ref: &str) -> anyhow::Result<Result<Vec<HistoryEntry>, Refusal>> {
        let mut conn = self.pool.acquire().await?;
        let row = match self.viewable(&mut conn, ctx, r#ref).await? {
            Ok(row) => row,
            Err(refusal) => return Ok(Err(refusal)),
        };
        Ok(Ok(audit::trail(&mut *conn, &row.r#ref.to_string()).await?))
    }

    /// The request row when the caller may see it; otherwise an audited refusal.
    async fn viewable(
        &self,
        conn: &mut PgConnection,
        ctx: &Context,
        r#ref: &str,
    ) -> anyhow::Result<Result<rows::RequestRow, Refusal>> {
        let parsed = Ref::parse(r#ref);
        let row = match &parsed {
            Ok(r) => rows::find(&mut *conn, &r.to_string()).await?,
            Err(_) => None,
        };
        // Someone who may not see a request is told exactly what they would be told if it did
        // not exist, so an answer never reveals a request in a workflow closed to them; the
        // audit entry keeps the true reason (not_permitted).
        let unseen = |r: &Ref| format!("There is no request {r} that you may see.");
        let (audited, told) = match (&row, &parsed) {
            (Some(row), _) if may_view(&ctx.actor, self.policy.workflow(&row.workflow), row.requester.as_str()) => {
                return Ok(Ok(row.clone()));
            }
            (Some(row), Ok(r)) => {
                let why = format!(
                    "You are not allowed to see {r}: your roles do not include a viewer of {}.",
                    row.workflow
                );
                (
                    Refusal::new(RefusalReason::NotPermitted, why),
                    Refusal::new(RefusalReason::UnknownRef, unseen(r)),
                )
            }
            (_, Ok(r)) => {
                let refusal = Refusal::new(RefusalReason::UnknownRef, unseen(r));
                (refusal.clone(), refusal)
            }
            // Not a ref at all (a NUL, 5,000 digits): invalid input, never looked up.
            (_, Err(message)) => {
                let refusal = Refusal::new(RefusalReason::InvalidInput, message.clone());
                (refusal.clone(), refusal)
            }
        };
        let known = parsed.ok().map(|r| r.to_string());
        let subject = Subject {
            r#ref: known.clone(),
            ..Subject::default()
        };
        let mut work = Work::new(conn);
        let quiet = Context {
            reply_to: None,
            ..ctx.clone()
        };
        self.refuse(&mut work, &quiet, Action::RequestViewed, subject, audited)
            .await?;
        if let Some(to) = &ctx.reply_to {
            work.send(super::ephemeral(to, &told));
        }
        self.finish_alone(work).await?;
        Ok(Err(told))
    }

    /// The current view of a request, without a permission check: for rendering cards that were
    /// already sent to the people entitled to them.
    pub async fn current_view(&self, r#ref: &str) -> anyhow::Result<Option<RequestView>> {
        let r#ref = r#ref.to_owned();
        Ok(self.current_views(std::slice::from_ref(&r#ref)).await?.remove(&r#ref))
    }

    /// The current views of several requests, read in one statement, by ref (unknown refs are
    /// left out). Like [`Engine::current_view`], without a permission check.
    pub async fn current_views(&self, refs: &[String]) -> anyhow::Result<HashMap<String, RequestView>> {
        snapshot::by_refs(&self.pool, refs)
            .await?
            .into_iter()
            .map(|s| Ok((s.row.r#ref.to_string(), self.view_of(s)?)))
            .collect()
    }

    /// Requests the caller may see, newest first (at most 50).
    pub async fn list(&self, ctx: &Context, filter: ListFilter) -> anyhow::Result<Vec<RequestView>> {
        let page = Page {
            status: (filter == ListFilter::Pending).then_some(Status::Pending),
            mine: filter == ListFilter::Mine,
            workflow: None,
            before: None,
            limit: 50,
        };
        Ok(self.list_page(ctx, &page).await?.0)
    }

    /// One page of the requests the caller may see, newest first, and the cursor of the next
    /// page when there may be one.
    #[tracing::instrument(name = "list", skip_all, fields(person = %ctx.actor.person))]
    pub async fn list_page(&self, ctx: &Context, page: &Page) -> anyhow::Result<(Vec<RequestView>, Option<i64>)> {
        let actor = &ctx.actor;
        let workflows: Vec<String> = self
            .policy
            .workflows
            .values()
            .filter(|wf| page.workflow.as_deref().is_none_or(|w| w == wf.id))
            .filter(|wf| page.mine || may_view(actor, Some(wf), ""))
            .map(|wf| wf.id.clone())
            .collect();
        let query = ListQuery {
            status: page.status,
            requester: page.mine.then(|| actor.person.to_string()),
            workflows,
            before: page.before,
            limit: page.limit,
        };
        let found = snapshot::list(&self.pool, &query).await?;
        let next = (found.len() as i64 == page.limit)
            .then(|| found.last().map(|s| s.row.id))
            .flatten();
        let views = found
            .into_iter()
            .map(|s| self.view_of(s))
            .collect::<anyhow::Result<_>>()?;
        Ok((views, next))
    }

    /// Whether the caller may read the whole audit log (the `auditor` role). Either way the
    /// attempt is recorded as `audit.exported`, with the period asked for.
    pub async fn authorize_audit_export(
        &self,
        ctx: &Context,
        period: serde_json::Value,
    ) -> anyhow::Result<Result<(), Refusal>> {
        let allowed = ctx.actor.roles.iter().any(|r| r.as_str() == AUDITOR_ROLE);
        let refusal = (!allowed).then(|| {
            Refusal::new(
                RefusalReason::NotPermitted,
                format!("Reading the audit log needs the role {AUDITOR_ROLE}."),
            )
        });
        let outcome = refusal
            .as_ref()
            .map_or(AuditOutcome::Done, |r| AuditOutcome::Refused(r.reason));
        let mut e = self.entry(ctx, Action::AuditExported, outcome);
        e.details = json!({ "period": period });
        if let Some(r) = &refusal {
            e.details["message"] = json!(r.message);
        }
        crate::store::effects::append(&mut *self.pool.acquire().await?, e.row()).await?;
        match refusal {
            Some(r) => {
                crate::metrics::refusal(r.reason);
                Ok(Err(r))
            }
            None => Ok(Ok(())),
        }
    }

    /// Records `policy.loaded` / `directory.loaded` for every file whose content hash differs
    /// from the last one recorded, so the log shows which rules were in force when. Returns how
    /// many entries were written.
    pub async fn record_policy_load(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        crate::store::locks::for_transaction(&mut tx, crate::store::locks::Lock::PolicyLoad).await?;
        let mut files: Vec<(Action, String, String)> = vec![(
            Action::DirectoryLoaded,
            "people".to_string(),
            self.policy.directory.hash.clone(),
        )];
        for wf in self.policy.workflows.values() {
            files.push((Action::PolicyLoaded, wf.id.clone(), wf.policy_hash.clone()));
        }
        let mut written = 0;
        for (action, name, hash) in files {
            let last = crate::store::audit::last_policy_hash(&mut tx, action.as_str(), &name).await?;
            if last.as_deref() == Some(hash.as_str()) {
                continue;
            }
            let e = NewEntry {
                identity: Some("system".into()),
                policy_hash: Some(hash.clone()),
                details: json!({ "name": name, "previous_hash": last }),
                ..NewEntry::new(self.clock.now(), action, AuditOutcome::Done)
            };
            crate::store::effects::append(&mut tx, e.row()).await?;
            written += 1;
        }
        tx.commit().await?;
        Ok(written)
    }
}
