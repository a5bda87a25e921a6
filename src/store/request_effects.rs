//! The rows of approved effects: the effect frozen with each version, the one row per approved
//! version that says where its effect stands, and what a run needs to bind its parameters.

use crate::policy::effect::Effect;
use crate::policy::value::Fields;
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

/// The effect frozen with a version, if it has one.
pub async fn version_effect(conn: &mut PgConnection, request_id: i64, version: i32) -> anyhow::Result<Option<Effect>> {
    let effect = sqlx::query_scalar!(
        r#"SELECT effect AS "effect: Json<Effect>" FROM request_versions WHERE request_id = $1 AND version = $2"#,
        request_id,
        version
    )
    .fetch_optional(conn)
    .await
    .context("reading a version's effect")?;
    Ok(effect.flatten().map(|Json(e)| e))
}

/// Records the effect of an approved version that ran (or failed) on the bot's own database, in
/// the deciding transaction (or a retry's).
#[allow(clippy::too_many_arguments)]
pub async fn record_here(
    conn: &mut PgConnection,
    request_id: i64,
    version: i32,
    effect: &Effect,
    status: EffectStatus,
    rows: Option<i64>,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO request_effects (request_id, version, target, statement_sha256, status, rows, error, queued_at, executed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (request_id, version) DO UPDATE SET status = EXCLUDED.status, rows = EXCLUDED.rows,
           error = EXCLUDED.error, executed_at = EXCLUDED.executed_at
         WHERE request_effects.status <> 'executed'",
        request_id,
        version,
        effect.target.as_str(),
        effect.statement_sha256(),
        status.as_str(),
        rows,
        error,
        at
    )
    .execute(conn)
    .await
    .context("recording an effect on the bot's database")?;
    Ok(())
}

/// Puts a failed (or stalled) effect back to pending for another run; an executed one stays.
pub async fn requeue(
    conn: &mut PgConnection,
    request_id: i64,
    version: i32,
    effect: &Effect,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO request_effects (request_id, version, target, statement_sha256, status, queued_at)
         VALUES ($1, $2, $3, $4, 'pending', $5)
         ON CONFLICT (request_id, version) DO UPDATE SET status = 'pending', error = NULL, queued_at = EXCLUDED.queued_at
         WHERE request_effects.status <> 'executed'",
        request_id,
        version,
        effect.target.as_str(),
        effect.statement_sha256(),
        at
    )
    .execute(conn)
    .await
    .context("queueing an effect again")?;
    Ok(())
}

/// Queues the effect of an approved version, pending (once: a second call changes nothing).
pub async fn queue(
    conn: &mut PgConnection,
    request_id: i64,
    version: i32,
    effect: &Effect,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO request_effects (request_id, version, target, statement_sha256, status, queued_at)
         VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING",
        request_id,
        version,
        effect.target.as_str(),
        effect.statement_sha256(),
        at
    )
    .execute(conn)
    .await
    .context("queueing an effect")?;
    Ok(())
}

/// Where an effect stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EffectStatus {
    /// Approved, not run yet (or its target was away).
    Pending,
    /// It ran, once.
    Executed,
    /// It could not run; `retry` runs it again.
    Failed,
}

impl EffectStatus {
    fn parse(s: &str) -> anyhow::Result<EffectStatus> {
        Ok(match s {
            "pending" => EffectStatus::Pending,
            "executed" => EffectStatus::Executed,
            "failed" => EffectStatus::Failed,
            other => anyhow::bail!("unknown effect status {other}"),
        })
    }

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EffectStatus::Pending => "pending",
            EffectStatus::Executed => "executed",
            EffectStatus::Failed => "failed",
        }
    }
}

/// How an approved version's effect stands, as a card shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EffectRun {
    /// `pending`, `executed` or `failed`.
    pub status: String,
    /// Rows it changed, once executed.
    pub rows: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// The rolled-back trial run of a version's effect, made when the version was written.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EffectPreview {
    /// Rows it would change.
    pub rows: Option<i64>,
    /// Why it would fail.
    pub error: Option<String>,
}

/// Everything a run of an approved version's effect needs.
#[derive(Clone, Debug)]
pub struct EffectJob {
    /// The request's row id.
    pub request_id: i64,
    /// Its workflow.
    pub workflow: String,
    /// Who asked.
    pub requester: String,
    /// The version's values.
    pub fields: Fields,
    /// The effect frozen with the version.
    pub effect: Effect,
    /// Where it stands.
    pub status: EffectStatus,
    /// When the request was decided.
    pub decided_at: DateTime<Utc>,
    /// The approvers of that version, in the order they voted.
    pub approvers: Vec<String>,
}

/// The effect of `ref`'s version `version`, when it was approved with one.
pub async fn job(pool: &PgPool, r#ref: &str, version: i32) -> anyhow::Result<Option<EffectJob>> {
    let row = sqlx::query!(
        r#"SELECT r.id, r.workflow, r.requester, v.fields AS "fields: Json<Fields>", v.effect AS "effect!: Json<Effect>",
                  e.status, d.at AS decided_at,
                  ARRAY(SELECT voter FROM votes WHERE request_id = r.id AND version = v.version AND kind = 'approve'
                        ORDER BY at, id) AS "approvers!"
           FROM requests r
           JOIN request_versions v ON v.request_id = r.id AND v.version = $2
           JOIN request_effects e ON e.request_id = r.id AND e.version = v.version
           JOIN decisions d ON d.request_id = r.id
           WHERE r.ref = $1 AND v.effect IS NOT NULL"#,
        r#ref,
        version
    )
    .fetch_optional(pool)
    .await
    .context("reading an effect to run")?;
    row.map(|r| {
        Ok(EffectJob {
            request_id: r.id,
            workflow: r.workflow,
            requester: r.requester,
            fields: r.fields.0,
            effect: r.effect.0,
            status: EffectStatus::parse(&r.status)?,
            decided_at: r.decided_at,
            approvers: r.approvers,
        })
    })
    .transpose()
}

/// Records how a run ended (an executed effect's row never changes again).
pub async fn record(
    conn: &mut PgConnection,
    request_id: i64,
    version: i32,
    status: EffectStatus,
    rows: Option<i64>,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let changed = sqlx::query!(
        "UPDATE request_effects SET status = $3, rows = $4, error = $5, executed_at = $6
         WHERE request_id = $1 AND version = $2 AND status <> 'executed'",
        request_id,
        version,
        status.as_str(),
        rows,
        error,
        at
    )
    .execute(conn)
    .await
    .context("recording an effect's run")?;
    Ok(changed.rows_affected() == 1)
}

/// The effect of a request's version as a receipt states it: target, statement hash, status,
/// rows and error.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EffectRecord {
    /// Where it runs.
    pub target: String,
    /// The SHA-256 of the statement as written.
    pub statement_sha256: String,
    /// `pending`, `executed` or `failed`.
    pub status: String,
    /// Rows it changed.
    pub rows: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// The effect record of `ref`'s version `version`, when it was approved with one.
pub async fn record_of(pool: &PgPool, r#ref: &str, version: i32) -> anyhow::Result<Option<EffectRecord>> {
    sqlx::query_as!(
        EffectRecord,
        "SELECT e.target, e.statement_sha256, e.status, e.rows, e.error
         FROM request_effects e JOIN requests r ON r.id = e.request_id WHERE r.ref = $1 AND e.version = $2",
        r#ref,
        version
    )
    .fetch_optional(pool)
    .await
    .context("reading an effect's record")
}
