//! What a digest says, for one owner team over a period: activity per workflow, what is pending
//! and aging, how fast decisions come, what was refused, what could not be delivered, the audit
//! chain's state, and which policy files changed.

use crate::audit;
use crate::engine::Engine;
use crate::policy::TeamId;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;

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
    let rows = sqlx::query(
        "SELECT r.workflow, a.action, count(*) AS n FROM audit_log a JOIN requests r ON r.ref = a.ref \
         WHERE a.at >= $1 AND a.at < $2 AND a.outcome = 'done' AND r.workflow = ANY($3) \
         AND a.action IN ('request.opened', 'request.approved', 'request.rejected', 'request.cancelled', 'request.expired') \
         GROUP BY 1, 2",
    )
    .bind(since)
    .bind(until)
    .bind(&workflows)
    .fetch_all(pool)
    .await
    .context("counting activity")?;
    for r in rows {
        let wf: String = r.try_get("workflow")?;
        let n: i64 = r.try_get("n")?;
        let a = activity.entry(wf.clone()).or_insert_with(|| WorkflowActivity {
            workflow: wf,
            ..Default::default()
        });
        match r.try_get::<String, _>("action")?.as_str() {
            "request.opened" => a.opened = n,
            "request.approved" => a.approved = n,
            "request.rejected" => a.rejected = n,
            "request.cancelled" => a.cancelled = n,
            _ => a.expired = n,
        }
    }
    let mut pending = Vec::new();
    let refs: Vec<String> = sqlx::query_scalar(
        "SELECT ref FROM requests WHERE status = 'pending' AND workflow = ANY($1) ORDER BY created_at, id LIMIT 200",
    )
    .bind(&workflows)
    .fetch_all(pool)
    .await?;
    for r in refs {
        let Some(v) = engine.current_view(&r).await? else {
            continue;
        };
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
    let mut minutes: Vec<i64> = sqlx::query_scalar(
        "SELECT (EXTRACT(EPOCH FROM (d.at - r.created_at)) / 60)::bigint FROM decisions d JOIN requests r ON r.id = d.request_id \
         WHERE d.at >= $1 AND d.at < $2 AND r.workflow = ANY($3) AND d.outcome IN ('approved', 'rejected')",
    )
    .bind(since)
    .bind(until)
    .bind(&workflows)
    .fetch_all(pool)
    .await?;
    minutes.sort_unstable();
    let refusals: BTreeMap<String, i64> = sqlx::query(
        "SELECT a.reason, count(*) AS n FROM audit_log a LEFT JOIN requests r ON r.ref = a.ref \
         WHERE a.at >= $1 AND a.at < $2 AND a.outcome = 'refused' \
         AND (r.workflow = ANY($3) OR a.details->>'workflow' = ANY($3)) GROUP BY 1",
    )
    .bind(since)
    .bind(until)
    .bind(&workflows)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get::<Option<String>, _>("reason")?.unwrap_or_default(),
            r.try_get("n")?,
        ))
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let dead_letters = sqlx::query(
        "SELECT o.ref, o.intent->>'kind' AS kind, coalesce(o.last_error, '') AS error FROM outbox o \
         JOIN requests r ON r.ref = o.ref WHERE o.dead_at >= $1 AND o.dead_at < $2 AND r.workflow = ANY($3) ORDER BY o.id",
    )
    .bind(since)
    .bind(until)
    .bind(&workflows)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| Ok(DeadLetter { r#ref: r.try_get("ref")?, kind: r.try_get("kind")?, error: r.try_get("error")? }))
    .collect::<Result<_, sqlx::Error>>()?;
    let mut names = workflows.clone();
    names.push("people".to_string());
    let policy_changes = sqlx::query(
        "SELECT details->>'name' AS name, details->>'previous_hash' AS from_hash, policy_hash, at FROM audit_log \
         WHERE action IN ('policy.loaded', 'directory.loaded') AND at >= $1 AND at < $2 AND details->>'name' = ANY($3) \
         AND details->>'previous_hash' IS NOT NULL ORDER BY id",
    )
    .bind(since)
    .bind(until)
    .bind(&names)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(PolicyChange {
            name: r.try_get("name")?,
            from: r.try_get("from_hash")?,
            to: r.try_get::<Option<String>, _>("policy_hash")?.unwrap_or_default(),
            at: r.try_get("at")?,
        })
    })
    .collect::<Result<_, sqlx::Error>>()?;
    audit::seal(pool).await?;
    let report = audit::verify(pool, |_, _| {}).await?;
    let chain = ChainStatus {
        verified_through: report.sealed_through.as_ref().map(|(s, _)| *s),
        broken_at: report.first_bad.as_ref().map(|(s, p)| (*s, p.to_string())),
        unsealed: report.unsealed,
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
