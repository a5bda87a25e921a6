//! Reading a request whole in one statement: its row, its current version, the votes on that
//! version and, once cancelled, the requester's reason. Cards, listings and the API read many
//! requests at once this way instead of three or four statements each.

use super::requests::{PreviousVersion, RequestRow, VersionRow, VoteRow};
use crate::approval::Status;
use anyhow::Context;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgExecutor, Row};

/// The votes on version `$v.version` of request `$v.request_id`, in the order they were cast,
/// as one JSON array (`[]` when there are none).
macro_rules! votes_json {
    () => {
        "(SELECT coalesce(jsonb_agg(jsonb_build_object('voter', x.voter, 'identity', x.identity, \
         'kind', x.kind, 'roles', x.roles, 'reason', x.reason, 'at', x.at) ORDER BY x.id), '[]'::jsonb) \
         FROM votes x WHERE x.request_id = v.request_id AND x.version = v.version) AS votes"
    };
}

/// The columns of a version that [`decode_version`] reads.
macro_rules! version_columns {
    () => {
        "v.fields, v.rule, v.groups, v.policy_hash, v.created_by, v.created_at AS version_created_at, \
         (SELECT jsonb_build_object('fields', p.fields, 'rule', p.rule, 'votes', \
         (SELECT count(*) FROM votes x WHERE x.request_id = p.request_id AND x.version = p.version)) \
         FROM request_versions p WHERE p.request_id = v.request_id AND p.version = v.version - 1) AS previous"
    };
}

/// Every column of a snapshot; the query adds its own condition and order.
macro_rules! snapshot_select {
    () => {
        concat!(
            "SELECT r.id, r.ref, r.workflow, r.requester, r.requester_identity, r.status, r.version, \
             r.created_at, r.expires_at, r.decided_at, r.origin, ",
            version_columns!(),
            ", ",
            votes_json!(),
            ", (SELECT d.reason FROM decisions d WHERE d.request_id = r.id AND r.status = 'cancelled') \
             AS cancel_reason \
             FROM requests r JOIN request_versions v ON v.request_id = r.id AND v.version = r.version "
        )
    };
}

/// A request as one statement saw it.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The request row.
    pub row: RequestRow,
    /// Its current version.
    pub version: VersionRow,
    /// The votes on that version, oldest first.
    pub votes: Vec<VoteRow>,
    /// The requester's reason, when they cancelled it.
    pub cancel_reason: Option<String>,
}

fn decode_votes(r: &PgRow) -> anyhow::Result<Vec<VoteRow>> {
    let Json(votes) = r.try_get::<Json<Vec<VoteRow>>, _>("votes")?;
    Ok(votes)
}

/// Version `version` of a request from the columns both reads name alike.
fn decode_version(r: &PgRow, version: i32) -> anyhow::Result<VersionRow> {
    Ok(VersionRow {
        version,
        fields: r.try_get("fields")?,
        rule: r.try_get("rule")?,
        groups: r.try_get("groups")?,
        policy_hash: r.try_get("policy_hash")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("version_created_at")?,
        previous: r
            .try_get::<Option<Json<PreviousVersion>>, _>("previous")?
            .map(|Json(p)| p),
    })
}

fn decode(r: &PgRow) -> anyhow::Result<Snapshot> {
    let row = RequestRow {
        id: r.try_get("id")?,
        r#ref: r.try_get("ref")?,
        workflow: r.try_get("workflow")?,
        requester: r.try_get("requester")?,
        requester_identity: r.try_get("requester_identity")?,
        status: r.try_get("status")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        decided_at: r.try_get("decided_at")?,
        origin: r.try_get("origin")?,
    };
    Ok(Snapshot {
        version: decode_version(r, row.version)?,
        row,
        votes: decode_votes(r)?,
        cancel_reason: r.try_get("cancel_reason")?,
    })
}

/// One version of a request and the votes cast on it. Read after the request row is locked, in
/// a statement of its own, so that it sees every vote committed before the lock was granted.
pub async fn version_with_votes(
    db: impl PgExecutor<'_>,
    request_id: i64,
    version: i32,
) -> anyhow::Result<(VersionRow, Vec<VoteRow>)> {
    let r = sqlx::query(concat!(
        "SELECT ",
        version_columns!(),
        ", ",
        votes_json!(),
        " FROM request_versions v WHERE v.request_id = $1 AND v.version = $2"
    ))
    .bind(request_id)
    .bind(version)
    .fetch_one(db)
    .await
    .context("reading a request version and its votes")?;
    Ok((decode_version(&r, version)?, decode_votes(&r)?))
}

/// The requests with these refs (unknown refs are left out), without locking them.
pub async fn by_refs(db: impl PgExecutor<'_>, refs: &[String]) -> anyhow::Result<Vec<Snapshot>> {
    let rows = sqlx::query(concat!(snapshot_select!(), "WHERE r.ref = ANY($1)"))
        .bind(refs)
        .fetch_all(db)
        .await
        .context("reading requests")?;
    rows.iter().map(decode).collect()
}

/// Which requests to list.
#[derive(Clone, Debug)]
pub struct ListQuery {
    /// Only this status.
    pub status: Option<Status>,
    /// Only requests opened by this person.
    pub requester: Option<String>,
    /// Only these workflows (those the caller may view, or asked for).
    pub workflows: Vec<String>,
    /// Only requests with a smaller id (keyset pagination).
    pub before: Option<i64>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// Requests matching `q`, newest first.
pub async fn list(db: impl PgExecutor<'_>, q: &ListQuery) -> anyhow::Result<Vec<Snapshot>> {
    let rows = sqlx::query(concat!(
        snapshot_select!(),
        "WHERE ($1::text IS NULL OR r.status = $1) AND ($2::text IS NULL OR r.requester = $2) \
         AND r.workflow = ANY($3) AND ($5::int8 IS NULL OR r.id < $5) ORDER BY r.id DESC LIMIT $4"
    ))
    .bind(q.status.map(Status::as_str))
    .bind(&q.requester)
    .bind(&q.workflows)
    .bind(q.limit)
    .bind(q.before)
    .fetch_all(db)
    .await
    .context("listing requests")?;
    rows.iter().map(decode).collect()
}
