//! The digest's reads (what happened in a team's workflows over a period) and its exactly-once
//! slots. Each figure is one statement over the period, whatever the number of requests.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

/// The period and the workflows a digest covers.
#[derive(Clone, Copy, Debug)]
pub struct Period<'a> {
    /// From (inclusive).
    pub since: DateTime<Utc>,
    /// To (exclusive).
    pub until: DateTime<Utc>,
    /// The team's workflows.
    pub workflows: &'a [String],
}

/// How many requests of each workflow reached each lifecycle action in the period.
pub async fn activity(pool: &PgPool, p: Period<'_>) -> anyhow::Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT r.workflow, a.action, count(*) AS "n!" FROM audit_log a JOIN requests r ON r.ref = a.ref
           WHERE a.at >= $1 AND a.at < $2 AND a.outcome = 'done' AND r.workflow = ANY($3)
             AND a.action IN ('request.opened', 'request.approved', 'request.rejected', 'request.cancelled',
                              'request.expired')
           GROUP BY 1, 2"#,
        p.since,
        p.until,
        p.workflows
    )
    .fetch_all(pool)
    .await
    .context("counting activity")?;
    Ok(rows.into_iter().map(|r| (r.workflow, r.action, r.n)).collect())
}

/// The oldest pending requests of the workflows (at most `limit`).
pub async fn pending_refs(pool: &PgPool, workflows: &[String], limit: i64) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT ref FROM requests WHERE status = 'pending' AND workflow = ANY($1) ORDER BY created_at, id LIMIT $2",
        workflows,
        limit
    )
    .fetch_all(pool)
    .await
    .context("reading pending requests")
}

/// Minutes from asking to deciding, for every approval or rejection in the period.
pub async fn minutes_to_decision(pool: &PgPool, p: Period<'_>) -> anyhow::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"SELECT (EXTRACT(EPOCH FROM (d.at - r.created_at)) / 60)::bigint AS "minutes!"
           FROM decisions d JOIN requests r ON r.id = d.request_id
           WHERE d.at >= $1 AND d.at < $2 AND r.workflow = ANY($3) AND d.outcome IN ('approved', 'rejected')"#,
        p.since,
        p.until,
        p.workflows
    )
    .fetch_all(pool)
    .await
    .context("reading decision times")
}

/// Refusals in the period, by reason.
pub async fn refusals(pool: &PgPool, p: Period<'_>) -> anyhow::Result<Vec<(String, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT coalesce(a.reason, '') AS "reason!", count(*) AS "n!"
           FROM audit_log a LEFT JOIN requests r ON r.ref = a.ref
           WHERE a.at >= $1 AND a.at < $2 AND a.outcome = 'refused'
             AND (r.workflow = ANY($3) OR a.details->>'workflow' = ANY($3))
           GROUP BY 1"#,
        p.since,
        p.until,
        p.workflows
    )
    .fetch_all(pool)
    .await
    .context("counting refusals")?;
    Ok(rows.into_iter().map(|r| (r.reason, r.n)).collect())
}

/// A message given up on in the period.
pub struct DeadLetterRow {
    /// The request.
    pub r#ref: String,
    /// The intent's kind.
    pub kind: String,
    /// The last error.
    pub error: String,
}

/// Messages about the workflows' requests dead-lettered in the period.
pub async fn dead_letters(pool: &PgPool, p: Period<'_>) -> anyhow::Result<Vec<DeadLetterRow>> {
    sqlx::query_as!(
        DeadLetterRow,
        r#"SELECT o.ref AS "ref!", coalesce(o.intent->>'kind', '') AS "kind!", coalesce(o.last_error, '') AS "error!"
           FROM outbox o JOIN requests r ON r.ref = o.ref
           WHERE o.dead_at >= $1 AND o.dead_at < $2 AND r.workflow = ANY($3) ORDER BY o.id"#,
        p.since,
        p.until,
        p.workflows
    )
    .fetch_all(pool)
    .await
    .context("reading dead letters")
}

/// An approved effect that has not run: waiting for its target, or failed.
pub struct EffectNotRunRow {
    /// The request.
    pub r#ref: String,
    /// Where it runs.
    pub target: String,
    /// `pending` or `failed`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
}

/// The workflows' approved effects that have not run (now, whatever the period), oldest first.
pub async fn effects_not_run(pool: &PgPool, workflows: &[String]) -> anyhow::Result<Vec<EffectNotRunRow>> {
    sqlx::query_as!(
        EffectNotRunRow,
        r#"SELECT r.ref AS "ref!", e.target, e.status, e.error
           FROM request_effects e JOIN requests r ON r.id = e.request_id
           WHERE e.status <> 'executed' AND r.workflow = ANY($1) ORDER BY e.queued_at, r.id LIMIT 50"#,
        workflows
    )
    .fetch_all(pool)
    .await
    .context("reading effects that have not run")
}

/// A policy file that changed in the period.
pub struct PolicyChangeRow {
    /// Workflow id, or `people`.
    pub name: String,
    /// Hash before.
    pub from_hash: String,
    /// Hash after.
    pub to_hash: String,
    /// When it was loaded.
    pub at: DateTime<Utc>,
}

/// Changes to the named policy files in the period, oldest first.
pub async fn policy_changes(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    names: &[String],
) -> anyhow::Result<Vec<PolicyChangeRow>> {
    sqlx::query_as!(
        PolicyChangeRow,
        r#"SELECT details->>'name' AS "name!", details->>'previous_hash' AS "from_hash!",
                  coalesce(policy_hash, '') AS "to_hash!", at
           FROM audit_log
           WHERE action IN ('policy.loaded', 'directory.loaded') AND at >= $1 AND at < $2
             AND details->>'name' = ANY($3) AND details->>'previous_hash' IS NOT NULL
           ORDER BY id"#,
        since,
        until,
        names
    )
    .fetch_all(pool)
    .await
    .context("reading policy changes")
}

/// The last digest slot of a team (only scheduled ones, or manual ones too).
pub async fn last_slot(pool: &PgPool, team: &str, scheduled_only: bool) -> anyhow::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!(
        "SELECT max(slot_at) FROM digest_slots WHERE team = $1 AND (NOT $2 OR NOT manual)",
        team,
        scheduled_only
    )
    .fetch_one(pool)
    .await
    .context("reading the last digest")
}

/// A digest slot to claim.
#[derive(Clone, Copy, Debug)]
pub struct Slot<'a> {
    /// The team.
    pub team: &'a str,
    /// The slot's instant.
    pub at: DateTime<Utc>,
    /// What it covers from.
    pub covers_from: DateTime<Utc>,
    /// Sent by hand rather than by the schedule.
    pub manual: bool,
    /// When it was claimed.
    pub claimed_at: DateTime<Utc>,
}

/// Claims a slot; `false` when another replica claimed it first.
pub async fn claim_slot(conn: &mut PgConnection, slot: Slot<'_>) -> anyhow::Result<bool> {
    let claimed = sqlx::query_scalar!(
        "INSERT INTO digest_slots (team, slot_at, covers_from, manual, claimed_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (team, slot_at) DO NOTHING RETURNING id",
        slot.team,
        slot.at,
        slot.covers_from,
        slot.manual,
        slot.claimed_at
    )
    .fetch_optional(conn)
    .await
    .context("claiming a digest slot")?;
    Ok(claimed.is_some())
}
