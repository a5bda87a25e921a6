//! The rows of signed checkpoints, and the reads of the chain that checking a kept checkpoint
//! or a receipt needs. What a checkpoint is and how it is signed lives in `audit::checkpoint`.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

/// A checkpoint as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRow {
    /// The chain position it signs.
    pub seq: i64,
    /// The hash at that position.
    pub hash: String,
    /// When it was signed.
    pub at: DateTime<Utc>,
    /// The key that signed it.
    pub kid: String,
    /// The compact JWS.
    pub jws: String,
}

/// Keeps a checkpoint; `false` when one at that position was kept already (by another replica).
pub async fn insert(conn: &mut PgConnection, c: &CheckpointRow) -> anyhow::Result<bool> {
    let kept = sqlx::query_scalar!(
        "INSERT INTO audit_checkpoints (seq, hash, at, kid, jws) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (seq) DO NOTHING RETURNING seq",
        c.seq,
        c.hash,
        c.at,
        c.kid,
        c.jws
    )
    .fetch_optional(conn)
    .await
    .context("keeping a checkpoint")?;
    Ok(kept.is_some())
}

/// The checkpoint at position `seq`.
pub async fn at(pool: &PgPool, seq: i64) -> anyhow::Result<Option<CheckpointRow>> {
    sqlx::query_as!(
        CheckpointRow,
        "SELECT seq, hash, at, kid, jws FROM audit_checkpoints WHERE seq = $1",
        seq
    )
    .fetch_optional(pool)
    .await
    .context("reading a checkpoint")
}

/// The latest checkpoint.
pub async fn latest(pool: &PgPool) -> anyhow::Result<Option<CheckpointRow>> {
    sqlx::query_as!(
        CheckpointRow,
        "SELECT seq, hash, at, kid, jws FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"
    )
    .fetch_optional(pool)
    .await
    .context("reading the latest checkpoint")
}

/// Up to `limit` checkpoints after position `after`, oldest first (a SIEM pages with the last
/// position it has).
pub async fn after(pool: &PgPool, after: i64, limit: i64) -> anyhow::Result<Vec<CheckpointRow>> {
    sqlx::query_as!(
        CheckpointRow,
        "SELECT seq, hash, at, kid, jws FROM audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2",
        after,
        limit
    )
    .fetch_all(pool)
    .await
    .context("listing checkpoints")
}

/// How many sealed entries after position `seq` are something other than `action` (what a
/// checkpoint records about itself): zero means nothing happened since that checkpoint.
pub async fn sealed_after_except(pool: &PgPool, seq: i64, action: &str) -> anyhow::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM audit_seal s JOIN audit_log a ON a.id = s.entry_id
           WHERE s.seq > $1 AND a.action <> $2"#,
        seq,
        action
    )
    .fetch_one(pool)
    .await
    .context("counting entries since the last checkpoint")
}

/// What the chain holds at a position: the entry sealed there, its ref and the hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealAt {
    /// The entry sealed there.
    pub entry_id: i64,
    /// That entry's ref, when it is still in the log.
    pub r#ref: Option<String>,
    /// The hash.
    pub hash: String,
}

/// The seal at position `seq`, if the chain reaches it.
pub async fn seal_at(pool: &PgPool, seq: i64) -> anyhow::Result<Option<SealAt>> {
    sqlx::query_as!(
        SealAt,
        r#"SELECT s.entry_id, a.ref AS "ref?", s.hash FROM audit_seal s LEFT JOIN audit_log a ON a.id = s.entry_id
           WHERE s.seq = $1"#,
        seq
    )
    .fetch_optional(pool)
    .await
    .context("reading the chain at a position")
}

/// The chain's last position, if anything is sealed.
pub async fn head(pool: &PgPool) -> anyhow::Result<Option<(i64, String)>> {
    let row = sqlx::query!("SELECT seq, hash FROM audit_seal ORDER BY seq DESC LIMIT 1")
        .fetch_optional(pool)
        .await
        .context("reading the chain's head")?;
    Ok(row.map(|r| (r.seq, r.hash)))
}
