//! Loading a request from its rows into the domain model and into the view cards show.

use super::outcome::{AmendmentView, FieldChange, FieldView, GroupView, PersonRef, RequestView};
use super::work::Work;
use super::{Engine, Subject};
use crate::approval::{Approval, Ref, Request, VoteKind};
use crate::audit::{Action, AuditOutcome, NewEntry};
use crate::policy::{ApprovalGroup, Fields, PersonId, Role, Workflow};
use crate::store::requests::{self as rows, Decision, RequestRow, StoredGroup, VersionRow, VoteRow};
use crate::store::snapshot::{self, Snapshot};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use std::collections::BTreeSet;

/// A request's rows and its domain model, read inside a transaction.
#[derive(Clone, Debug)]
pub(super) struct Loaded {
    pub row: RequestRow,
    pub version: VersionRow,
    pub votes: Vec<VoteRow>,
    pub domain: Request,
}

impl Loaded {
    /// Whose approvals counted, in the order they were given.
    pub fn approver_ids(&self) -> Vec<String> {
        self.domain.approvals.iter().map(|a| a.voter.to_string()).collect()
    }

    /// What the loaded version's effect is bound to, decided (or tried) at `decided_at`.
    pub fn effect_inputs<'a>(&'a self, r#ref: &'a str, decided_at: DateTime<Utc>) -> crate::effect::Inputs<'a> {
        crate::effect::Inputs {
            r#ref,
            version: self.row.version,
            requester: self.row.requester.as_str(),
            approvers: self.approver_ids(),
            decided_at,
            fields: &self.version.fields.0,
        }
    }

    /// The audit subject for this request's current version.
    pub fn subject(&self) -> Subject<'_> {
        Subject {
            r#ref: Some(self.row.r#ref.to_string()),
            workflow: Some(&self.row.workflow),
            version: Some(self.row.version),
            rule: Some(&self.version.rule),
            policy_hash: Some(&self.version.policy_hash),
        }
    }
}

/// Stored groups back to the domain's groups.
pub(super) fn groups_from(stored: &[StoredGroup]) -> anyhow::Result<Vec<ApprovalGroup>> {
    stored
        .iter()
        .map(|g| {
            Ok(ApprovalGroup {
                role: Role::parse(&g.role).map_err(anyhow::Error::msg)?,
                count: g.count,
            })
        })
        .collect()
}

/// The domain's groups as stored with a version.
pub(super) fn groups_to(groups: &[ApprovalGroup]) -> Vec<StoredGroup> {
    groups
        .iter()
        .map(|g| StoredGroup {
            role: g.role.to_string(),
            count: g.count,
        })
        .collect()
}

/// Builds the domain model from rows.
fn domain(row: &RequestRow, version: &VersionRow, votes: &[VoteRow]) -> anyhow::Result<Request> {
    let mut approvals = Vec::new();
    let mut voters = BTreeSet::new();
    for v in votes {
        voters.insert(v.voter.clone());
        if rows::is_approval(v) {
            approvals.push(Approval {
                voter: v.voter.clone(),
                roles: v.roles.iter().cloned().collect(),
            });
        }
    }
    Ok(Request {
        requester: row.requester.clone(),
        version: u32::try_from(row.version).context("negative version")?,
        status: row.status,
        groups: groups_from(&version.groups.0)?,
        approvals,
        voters,
        expires_at: row.expires_at,
    })
}

impl Engine {
    /// Locks and loads a request; `None` when the ref is unknown.
    pub(super) async fn load_locked(&self, conn: &mut PgConnection, r#ref: &str) -> anyhow::Result<Option<Loaded>> {
        // A malformed ref names no request: it is never looked up (a NUL or a 64 KB string
        // would only make the database fail).
        let Ok(r#ref) = Ref::parse(r#ref) else {
            return Ok(None);
        };
        let Some(row) = rows::lock(conn, &r#ref.to_string()).await? else {
            return Ok(None);
        };
        self.load_rest(conn, row).await.map(Some)
    }

    /// Loads the current version and votes of a request row.
    pub(super) async fn load_rest(&self, conn: &mut PgConnection, row: RequestRow) -> anyhow::Result<Loaded> {
        let (version, votes) = snapshot::version_with_votes(&mut *conn, row.id, row.version).await?;
        loaded(row, version, votes)
    }

    /// Expires the request first if it is past due, so that no action lands on a request that
    /// should already be expired. Returns whether it expired now.
    pub(super) async fn expire_if_due(&self, work: &mut Work<'_>, l: &mut Loaded) -> anyhow::Result<bool> {
        let now = self.clock.now();
        if !l.domain.is_due_to_expire(now) {
            return Ok(false);
        }
        l.domain
            .expire(now)
            .map_err(|r| anyhow::anyhow!("expiry refused: {r}"))?;
        self.finalise(work, l, None, None);
        let mut e = NewEntry {
            identity: Some("system".into()),
            details: json!({ "expires_at": l.row.expires_at }),
            ..NewEntry::new(now, Action::RequestExpired, AuditOutcome::Done)
        };
        l.subject().fill(&mut e);
        work.audit(e);
        self.notify(work, l, false);
        Ok(true)
    }

    /// Queues the final state the domain reached, and updates the loaded row to match.
    pub(super) fn finalise(&self, work: &mut Work<'_>, l: &mut Loaded, decided_by: Option<&str>, reason: Option<&str>) {
        let now = self.clock.now();
        work.decide(Decision {
            request_id: l.row.id,
            outcome: l.domain.status,
            version: l.row.version,
            rule: l.version.rule.clone(),
            policy_hash: l.version.policy_hash.clone(),
            decided_by: decided_by.map(str::to_owned),
            reason: reason.map(str::to_owned),
            at: now,
        });
        l.row.status = l.domain.status;
        l.row.decided_at = Some(now);
    }

    /// The card view of a loaded request.
    pub(super) fn view(&self, l: &Loaded, cancel_reason: Option<String>) -> RequestView {
        let wf = self.policy.workflow(&l.row.workflow);
        let progress = l.domain.progress();
        let pending = l.domain.status == crate::approval::Status::Pending;
        let groups = progress
            .groups
            .iter()
            .map(|g| GroupView {
                role: g.role.to_string(),
                needed: g.needed,
                filled_by: g.filled_by.iter().map(|p| self.person_ref(p.as_str())).collect(),
                waiting_for: match pending && !g.is_met() {
                    true => self.can_still_fill(l, &g.role),
                    false => Vec::new(),
                },
            })
            .collect();
        let rejected_by = l
            .votes
            .iter()
            .find(|v| v.kind == VoteKind::Reject)
            .map(|v| (self.person_ref(v.voter.as_str()), v.reason.clone().unwrap_or_default()));
        RequestView {
            r#ref: l.row.r#ref.to_string(),
            workflow: l.row.workflow.clone(),
            workflow_title: wf.map(|w| w.title.clone()).unwrap_or_else(|| l.row.workflow.clone()),
            requester: self.person_ref(l.row.requester.as_str()),
            version: l.row.version,
            status: l.domain.status,
            fields: field_views(wf, &l.version),
            rule: l.version.rule.clone(),
            groups,
            rejected_by,
            cancel_reason,
            created_at: l.row.created_at,
            expires_at: l.row.expires_at,
            decided_at: l.row.decided_at,
            amended: l.version.previous.as_ref().map(|p| AmendmentView {
                from_version: l.row.version - 1,
                changes: changes(wf, &p.fields, &l.version.fields.0),
                votes_voided: p.votes,
                previous_rule: p.rule.clone(),
            }),
            effect: super::effects::effect_view(l),
        }
    }

    /// The people who could fill a slot of `role` now: they hold it, did not ask, and have not
    /// voted on this version.
    fn can_still_fill(&self, l: &Loaded, role: &Role) -> Vec<PersonRef> {
        self.policy
            .directory
            .holders(role)
            .into_iter()
            .filter(|p| p.id != l.domain.requester && !l.domain.voters.contains(&p.id))
            .map(|p| PersonRef {
                id: p.id.to_string(),
                name: p.name.clone(),
            })
            .collect()
    }

    /// A person's or service's id and display name (the id alone if they left the directory).
    pub(super) fn person_ref(&self, id: &str) -> PersonRef {
        let name = PersonId::parse(id)
            .ok()
            .and_then(|p| self.policy.directory.display_name(&p).map(str::to_owned))
            .unwrap_or_else(|| id.to_string());
        PersonRef {
            id: id.to_string(),
            name,
        }
    }

    /// The view of a request read without a lock (for show, list and cards).
    pub(super) fn view_of(&self, s: Snapshot) -> anyhow::Result<RequestView> {
        let l = loaded(s.row, s.version, s.votes)?;
        Ok(self.view(&l, s.cancel_reason))
    }
}

fn loaded(row: RequestRow, version: VersionRow, votes: Vec<VoteRow>) -> anyhow::Result<Loaded> {
    let domain = domain(&row, &version, &votes)?;
    Ok(Loaded {
        row,
        version,
        votes,
        domain,
    })
}

/// Field names with their labels: the workflow's fields in its order, then any other name in
/// `present` (fields the workflow no longer declares).
fn labelled<'a>(wf: Option<&'a Workflow>, present: impl Iterator<Item = &'a String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = wf
        .map(|wf| {
            wf.fields
                .iter()
                .map(|spec| {
                    (
                        spec.name.clone(),
                        spec.label.clone().unwrap_or_else(|| spec.name.clone()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for name in present {
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.clone(), name.clone()));
        }
    }
    out
}

/// Field values in the workflow's order, then any the workflow no longer declares.
fn field_views(wf: Option<&Workflow>, v: &VersionRow) -> Vec<FieldView> {
    labelled(wf, v.fields.0.keys())
        .into_iter()
        .filter_map(|(name, label)| {
            let value = v.fields.0.get(&name)?.to_string();
            Some(FieldView { name, label, value })
        })
        .collect()
}

/// The fields whose values differ between two versions.
fn changes(wf: Option<&Workflow>, before: &Fields, after: &Fields) -> Vec<FieldChange> {
    labelled(wf, before.keys().chain(after.keys()))
        .into_iter()
        .filter(|(name, _)| before.get(name) != after.get(name))
        .map(|(name, label)| FieldChange {
            label,
            before: before.get(&name).map(ToString::to_string),
            after: after.get(&name).map(ToString::to_string),
        })
        .collect()
}

/// When a request opened at `at` under `wf` expires.
pub(super) fn expiry(wf: &Workflow, at: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let d = chrono::TimeDelta::from_std(wf.lifecycle.expires_after).context("expiry out of range")?;
    Ok(at + d)
}
