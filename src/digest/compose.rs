//! What a digest says, for one owner team over a period: activity per workflow, what is pending
//! and aging, how fast decisions come, what was refused, what could not be delivered, the audit
//! chain's state, and which policy files changed.

use crate::audit::{self, Action};
use crate::engine::Engine;
use crate::policy::TeamId;
use crate::store::digest::{self as store, Period};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many pending requests a digest lists (the oldest first).
const PENDING_SHOWN: i64 = 200;

/// One workflow's activity in the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowActivity {
    /// Workflow id.
    pub workflow: String,
    /// Requests opened, approved, rejected, cancelled, expired in the period.
    pub opened: i64,
    /// Approved.
    pub approved: i64,
    /// Rejected.
    pub rejected: i64,
    /// Cancelled.
    pub cancelled: i64,
    /// Expired.
    pub expired: i64,
}

/// A pending request, as the owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingItem {
    /// Ref.
    pub r#ref: String,
    /// Workflow id.
    pub workflow: String,
    /// Requester's name.
    pub requester: String,
    /// Age in hours when the digest was made.
    pub age_hours: i64,
    /// "0 of 1 finance-director".
    pub needs: String,
    /// Past its workflow's remind_after.
    pub overdue: bool,
}

/// The audit chain as the digest found it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStatus {
    /// The last verified chain position.
    pub verified_through: Option<i64>,
    /// Where it is broken, and how.
    pub broken_at: Option<(i64, String)>,
    /// Entries awaiting sealing.
    pub unsealed: i64,
    /// The latest signed checkpoint: keep its position and hash (this message is a copy
    /// outside the database) to compare with `countersign audit verify --checkpoint`.
    #[serde(default)]
    pub checkpoint: Option<KeptHead>,
}

/// A signed checkpoint as a digest reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptHead {
    /// The chain position.
    pub seq: i64,
    /// The hash there, in full.
    pub hash: String,
    /// When it was signed, RFC 3339.
    pub at: String,
}

/// A policy file that changed in the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyChange {
    /// Workflow id (or `people` for the directory).
    pub name: String,
    /// Hash before, when there was one.
    pub from: Option<String>,
    /// Hash now in force.
    pub to: String,
    /// When it was first loaded.
    pub at: DateTime<Utc>,
}

/// A message that could not be delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The request it was about.
    pub r#ref: Option<String>,
    /// What it was (card, update, confirmation...).
    pub kind: String,
    /// The last error.
    pub error: String,
}

/// An approved effect that has not run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectNotRun {
    /// The request.
    pub r#ref: String,
    /// Where it runs.
    pub target: String,
    /// Why it failed, or `None` while it waits for its target.
    pub error: Option<String>,
}

/// One owner's digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// The owner team.
    pub team: String,
    /// Start of the period (the previous digest).
    pub since: DateTime<Utc>,
    /// End of the period.
    pub until: DateTime<Utc>,
    /// Activity per owned workflow.
    pub activity: Vec<WorkflowActivity>,
    /// Pending requests, oldest first.
    pub pending: Vec<PendingItem>,
    /// Median time to decision in the period, in minutes.
    pub median_minutes: Option<i64>,
    /// 90th percentile time to decision, in minutes.
    pub p90_minutes: Option<i64>,
    /// Decisions the percentiles are over.
    pub decisions: usize,
    /// Refused attempts by reason.
    pub refusals: BTreeMap<String, i64>,
    /// Messages given up on.
    pub dead_letters: Vec<DeadLetter>,
    /// Approved effects that have not run: waiting for their target, or failed.
    #[serde(default)]
    pub effects_not_run: Vec<EffectNotRun>,
    /// The audit chain.
    pub chain: ChainStatus,
    /// Policy files that changed.
    pub policy_changes: Vec<PolicyChange>,
}

impl Digest {
    /// Requests past their reminder time.
    pub fn overdue(&self) -> impl Iterator<Item = &PendingItem> {
        self.pending.iter().filter(|p| p.overdue)
    }
}

/// The `q`-th quantile (0..1) of sorted values, nearest rank.
fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Composes the digest of `team` for `[since, until)`.
pub async fn compose(
    engine: &Engine,
    team: &TeamId,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<Digest> {
    let policy = engine.policy();
    let workflows: Vec<String> = policy
        .workflows
        .values()
        .filter(|w| &w.owner == team)
        .map(|w| w.id.clone())
        .collect();
    let pool = engine.pool();
    let mut activity: BTreeMap<String, WorkflowActivity> = workflows
        .iter()
        .map(|w| {
            (
                w.clone(),
                WorkflowActivity {
                    workflow: w.clone(),
                    ..Default::default()
                },
            )
        })
        .collect();
    let period = Period {
        since,
        until,
        workflows: &workflows,
    };
    for (wf, action, n) in store::activity(pool, period).await? {
        let a = activity.entry(wf.clone()).or_insert_with(|| WorkflowActivity {
            workflow: wf,
            ..Default::default()
        });
        let counter = match Action::parse(&action) {
            Some(Action::RequestOpened) => &mut a.opened,
            Some(Action::RequestApproved) => &mut a.approved,
            Some(Action::RequestRejected) => &mut a.rejected,
            Some(Action::RequestCancelled) => &mut a.cancelled,
            Some(Action::RequestExpired) => &mut a.expired,
            // The statement asks for these five only; anything else is a bug to hear about.
            _ => anyhow::bail!("the activity count returned an unexpected action {action:?}"),
        };
        *counter = n;
    }
    // One read of every pending request's current state, not one per request.
    let refs = store::pending_refs(pool, &workflows, PENDING_SHOWN).await?;
    let views = engine.current_views(&refs).await?;
    let mut pending = Vec::new();
    for v in refs.iter().filter_map(|r| views.get(r)) {
        let remind = policy.workflow(&v.workflow).and_then(|w| w.lifecycle.remind_after);
        let age = until - v.created_at;
        let overdue = remind
            .and_then(|d| chrono::TimeDelta::from_std(d).ok())
            .is_some_and(|d| age >= d);
        pending.push(PendingItem {
            r#ref: v.r#ref.clone(),
            workflow: v.workflow.clone(),
            requester: v.requester.name.clone(),
            age_hours: age.num_hours(),
            needs: v.needed_summary(),
            overdue,
        });
    }
    let mut minutes = store::minutes_to_decision(pool, period).await?;
    minutes.sort_unstable();
    let refusals: BTreeMap<String, i64> = store::refusals(pool, period).await?.into_iter().collect();
    let effects_not_run = store::effects_not_run(pool, &workflows)
        .await?
        .into_iter()
        .map(|e| EffectNotRun {
            r#ref: e.r#ref,
            target: e.target,
            error: match e.status.as_str() {
                "failed" => Some(e.error.unwrap_or_default()),
                _ => None,
            },
        })
        .collect();
    let dead_letters = store::dead_letters(pool, period)
        .await?
        .into_iter()
        .map(|d| DeadLetter {
            r#ref: Some(d.r#ref),
            kind: d.kind,
            error: d.error,
        })
        .collect();
    let mut names = workflows.clone();
    names.push("people".to_string());
    let policy_changes = store::policy_changes(pool, since, until, &names)
        .await?
        .into_iter()
        .map(|c| PolicyChange {
            name: c.name,
            from: Some(c.from_hash),
            to: c.to_hash,
            at: c.at,
        })
        .collect();
    audit::seal(pool).await?;
    // From where the last digest left the chain verified: each link is checked once by the
    // digests, not the whole chain every time (`countersign audit verify` walks it all).
    let start = match crate::store::audit::last_digest_verified(pool).await? {
        Some(seq) => crate::store::audit::seal_hash(pool, seq).await?.map(|hash| (seq, hash)),
        None => None,
    };
    let report = audit::verify_after(pool, start, |_, _| {}).await?;
    let chain = ChainStatus {
        verified_through: report.sealed_through.as_ref().map(|(s, _)| *s),
        broken_at: report.first_bad.as_ref().map(|(s, p)| (*s, p.to_string())),
        unsealed: report.unsealed,
        checkpoint: audit::checkpoint::latest(pool).await?.map(|c| KeptHead {
            seq: c.seq,
            hash: c.hash,
            at: c.at,
        }),
    };
    Ok(Digest {
        team: team.to_string(),
        since,
        until,
        activity: activity.into_values().collect(),
        pending,
        median_minutes: quantile(&minutes, 0.5),
        p90_minutes: quantile(&minutes, 0.9),
        decisions: minutes.len(),
        refusals,
        dead_letters,
        effects_not_run,
        chain,
        policy_changes,
    })
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7], 0.9), Some(7));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(quantile(&ten, 0.5), Some(5));
        assert_eq!(quantile(&ten, 0.9), Some(9));
        assert_eq!(quantile(&[1, 2, 100], 0.9), Some(100));
    }
}
