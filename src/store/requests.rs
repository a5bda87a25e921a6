//! Rows of requests, their versions, votes and final decisions.

use crate::approval::{Ref, Status, VoteKind};
use crate::chat::address::ChatPlace;
use crate::policy::{Fields, PersonId, Role};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection, PgExecutor};

/// One approval group as stored with a version (the rule's groups at the time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredGroup {
    /// Role name.
    pub role: String,
    /// Approvals needed.
    pub count: u32,
}

/// A row of `requests`.
#[derive(Clone, Debug, FromRow)]
pub struct RequestRow {
    /// Database id.
    pub id: i64,
    /// `INV-42`.
    pub r#ref: Ref,
    /// Workflow id.
    pub workflow: String,
    /// Requester's person id.
    pub requester: PersonId,
    /// Identity the request was opened through.
    pub requester_identity: String,
    /// Where it stands.
    pub status: Status,
    /// Current version.
    pub version: i32,
    /// When opened.
    pub created_at: DateTime<Utc>,
    /// When a pending request expires.
    pub expires_at: DateTime<Utc>,
    /// When it reached its final state.
    pub decided_at: Option<DateTime<Utc>>,
    /// The chat channel it was opened from (cards and confirmations go there).
    pub origin: Option<Json<ChatPlace>>,
}

/// A row of `request_versions`.
#[derive(Clone, Debug, FromRow)]
pub struct VersionRow {
    /// Version number.
    pub version: i32,
    /// Typed field values.
    pub fields: Json<Fields>,
    /// The rule that applied.
    pub rule: String,
    /// The rule's approval groups.
    pub groups: Json<Vec<StoredGroup>>,
    /// Policy file hash in force.
    pub policy_hash: String,
    /// Who wrote this version.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The version this one replaced, when it was an amendment.
    #[sqlx(skip)]
    pub previous: Option<PreviousVersion>,
    /// The effect frozen with this version, if its workflow has one.
    #[sqlx(skip)]
    pub effect: Option<crate::policy::effect::Effect>,
    /// How the effect's run stands, once the version was approved.
    #[sqlx(skip)]
    pub effect_run: Option<crate::store::request_effects::EffectRun>,
    /// The effect's rolled-back trial run, when the workflow asks for one.
    #[sqlx(skip)]
    pub preview: Option<crate::store::request_effects::EffectPreview>,
}

/// What an amended version replaced: its values, its rule, and how many votes it had.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreviousVersion {
    /// Typed field values of the replaced version.
    pub fields: Fields,
    /// Its rule.
    pub rule: String,
    /// Votes cast on it (voided by the amendment).
    pub votes: i64,
}

/// A row of `votes`.
#[derive(Clone, Debug, FromRow, Deserialize)]
pub struct VoteRow {
    /// Voter's person id.
    pub voter: PersonId,
    /// Identity voted through.
    pub identity: String,
    /// Approve or reject.
    pub kind: VoteKind,
    /// The voter's roles when voting.
    pub roles: Vec<Role>,
    /// A reject's reason.
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Takes the next number of a workflow's refs. The counter row stays locked until commit, so
/// numbers are gap-free and unique.
pub async fn next_number(conn: &mut PgConnection, workflow: &str) -> anyhow::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO workflow_counters (workflow, last_number) VALUES ($1, 1)
         ON CONFLICT (workflow) DO UPDATE SET last_number = workflow_counters.last_number + 1
         RETURNING last_number",
        workflow
    )
    .fetch_one(conn)
    .await
    .context("numbering a new request")
}

/// Inserts a request at version 1 and returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn insert_request(
    conn: &mut PgConnection,
    r#ref: &str,
    workflow: &str,
    number: i64,
    requester: &str,
    identity: &str,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    origin: Option<&ChatPlace>,
) -> anyhow::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO requests (ref, workflow, number, requester, requester_identity, status, version,
         created_at, expires_at, origin) VALUES ($1, $2, $3, $4, $5, 'pending', 1, $6, $7, $8) RETURNING id",
        r#ref,
        workflow,
        number,
        requester,
        identity,
        created_at,
        expires_at,
        origin.map(Json) as Option<Json<&ChatPlace>>
    )
    .fetch_one(conn)
    .await
    .context("inserting a request")
}

/// Inserts one version of a request, with the effect its approval will run frozen in it (what
/// the approvers see is what runs, whatever the workflow file says later).
pub async fn insert_version(conn: &mut PgConnection, request_id: i64, v: &VersionRow) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO request_versions (request_id, version, fields, rule, groups, policy_hash, created_by, created_at, effect, preview)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        request_id,
        v.version,
        &v.fields as &Json<Fields>,
        v.rule,
        &v.groups as &Json<Vec<StoredGroup>>,
        v.policy_hash,
        v.created_by,
        v.created_at,
        v.effect.as_ref().map(Json) as Option<Json<&crate::policy::effect::Effect>>,
        v.preview.as_ref().map(Json) as Option<Json<&crate::store::request_effects::EffectPreview>>
    )
    .execute(conn)
    .await
    .context("inserting a request version")?;
    Ok(())
}

/// Reads a request and locks its row until the transaction ends: every action on one request
/// is serialised here.
pub async fn lock(conn: &mut PgConnection, r#ref: &str) -> anyhow::Result<Option<RequestRow>> {
    sqlx::query_as!(
        RequestRow,
        r#"SELECT id, ref AS "ref: Ref", workflow, requester AS "requester: PersonId", requester_identity,
                  status AS "status: Status", version,
                  created_at, expires_at, decided_at, origin AS "origin: Json<ChatPlace>"
           FROM requests WHERE ref = $1 FOR UPDATE"#,
        r#ref
    )
    .fetch_optional(conn)
    .await
    .context("locking a request")
}

/// Reads a request without locking it.
pub async fn find(db: impl PgExecutor<'_>, r#ref: &str) -> anyhow::Result<Option<RequestRow>> {
    sqlx::query_as!(
        RequestRow,
        r#"SELECT id, ref AS "ref: Ref", workflow, requester AS "requester: PersonId", requester_identity,
                  status AS "status: Status", version,
                  created_at, expires_at, decided_at, origin AS "origin: Json<ChatPlace>"
           FROM requests WHERE ref = $1"#,
        r#ref
    )
    .fetch_optional(db)
    .await
    .context("reading a request")
}

/// Moves a request to a new version (amendment).
pub async fn set_version(conn: &mut PgConnection, request_id: i64, version: i32) -> anyhow::Result<()> {
    sqlx::query!("UPDATE requests SET version = $2 WHERE id = $1", request_id, version)
        .execute(conn)
        .await
        .context("moving a request to its new version")?;
    Ok(())
}

/// The final record of a decision (written by [`super::effects`]).
#[derive(Clone, Debug)]
pub struct Decision {
    /// The request.
    pub request_id: i64,
    /// Final state.
    pub outcome: Status,
    /// Version decided.
    pub version: i32,
    /// Rule that applied.
    pub rule: String,
    /// Policy file hash.
    pub policy_hash: String,
    /// The person whose action decided it (None for expiry).
    pub decided_by: Option<String>,
    /// A reject's or cancel's reason.
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Refs of pending requests whose expiry has passed at `now`, oldest first.
pub async fn due_for_expiry(db: impl PgExecutor<'_>, now: DateTime<Utc>, limit: i64) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT ref FROM requests WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
        now,
        limit
    )
    .fetch_all(db)
    .await
    .context("finding requests due to expire")
}

/// Whether a vote row is an approval.
pub fn is_approval(v: &VoteRow) -> bool {
    v.kind == VoteKind::Approve
}

/// Refs of pending requests of `workflow` asked in chat whose last reminder (or opening) is
/// older than `before`, oldest first (at most `limit`).
pub async fn due_for_reminder(
    pool: &sqlx::PgPool,
    workflow: &str,
    before: DateTime<Utc>,
    limit: i64,
) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT ref FROM requests WHERE workflow = $1 AND status = 'pending' AND origin IS NOT NULL
         AND coalesce(last_reminded_at, created_at) <= $2 ORDER BY id LIMIT $3",
        workflow,
        before,
        limit
    )
    .fetch_all(pool)
    .await
    .context("finding requests due for a reminder")
}

/// Locks the request `ref` if it is still due for a reminder and no other replica holds it;
/// returns its id.
pub async fn lock_if_due_for_reminder(
    conn: &mut PgConnection,
    r#ref: &str,
    before: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    sqlx::query_scalar!(
        "SELECT id FROM requests WHERE ref = $1 AND status = 'pending'
         AND coalesce(last_reminded_at, created_at) <= $2 FOR UPDATE SKIP LOCKED",
        r#ref,
        before
    )
    .fetch_optional(conn)
    .await
    .context("locking a request to remind")
}

/// Records that request `id` was reminded at `at`.
pub async fn mark_reminded(conn: &mut PgConnection, id: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query!("UPDATE requests SET last_reminded_at = $2 WHERE id = $1", id, at)
        .execute(conn)
        .await
        .context("recording a reminder")?;
    Ok(())
}
