//! Reading a request whole in one statement: its row, its current version, the votes on that
//! version and, once cancelled, the requester's reason. Cards, listings and the API read many
//! requests at once this way instead of three or four statements each.

use super::request_effects::{EffectPreview, EffectRun};
use super::requests::{PreviousVersion, RequestRow, StoredGroup, VersionRow, VoteRow};
use crate::approval::{Ref, Status};
use crate::chat::address::ChatPlace;
use crate::policy::effect::Effect;
use crate::policy::{Fields, PersonId};
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgExecutor;

// Each statement below spells the same columns out in full: a statement checked when the crate
// compiles is one literal. They read the request row; its current version; the version before
// it (values, rule and how many votes it had), when it was amended; the votes on the current
// version in the order they were cast, as one JSON array; and a cancelled request's reason.

/// A snapshot's columns, as one statement returns them.
struct SnapshotRow {
    id: i64,
    r#ref: Ref,
    workflow: String,
    requester: PersonId,
    requester_identity: String,
    status: Status,
    version: i32,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    origin: Option<Json<ChatPlace>>,
    fields: Json<Fields>,
    rule: String,
    groups: Json<Vec<StoredGroup>>,
    policy_hash: String,
    created_by: String,
    version_created_at: DateTime<Utc>,
    previous: Option<Json<PreviousVersion>>,
    votes: Json<Vec<VoteRow>>,
    cancel_reason: Option<String>,
    effect: Option<Json<Effect>>,
    effect_run: Option<Json<EffectRun>>,
    preview: Option<Json<EffectPreview>>,
}

impl SnapshotRow {
    fn snapshot(self) -> Snapshot {
        Snapshot {
            version: VersionRow {
                version: self.version,
                fields: self.fields,
                rule: self.rule,
                groups: self.groups,
                policy_hash: self.policy_hash,
                created_by: self.created_by,
                created_at: self.version_created_at,
                previous: self.previous.map(|Json(p)| p),
                effect: self.effect.map(|Json(e)| e),
                effect_run: self.effect_run.map(|Json(r)| r),
                preview: self.preview.map(|Json(p)| p),
            },
            row: RequestRow {
                id: self.id,
                r#ref: self.r#ref,
                workflow: self.workflow,
                requester: self.requester,
                requester_identity: self.requester_identity,
                status: self.status,
                version: self.version,
                created_at: self.created_at,
                expires_at: self.expires_at,
                decided_at: self.decided_at,
                origin: self.origin,
            },
            votes: self.votes.0,
            cancel_reason: self.cancel_reason,
        }
    }
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

/// One version of a request and the votes cast on it. Read after the request row is locked, in
/// a statement of its own, so that it sees every vote committed before the lock was granted.
pub async fn version_with_votes(
    db: impl PgExecutor<'_>,
    request_id: i64,
    version: i32,
) -> anyhow::Result<(VersionRow, Vec<VoteRow>)> {
    let r = sqlx::query!(
        r#"SELECT v.fields AS "fields: Json<Fields>", v.rule, v.groups AS "groups: Json<Vec<StoredGroup>>",
                  v.policy_hash, v.created_by, v.created_at AS version_created_at,
                  (SELECT jsonb_build_object('fields', p.fields, 'rule', p.rule, 'votes',
                     (SELECT count(*) FROM votes x WHERE x.request_id = p.request_id AND x.version = p.version))
                   FROM request_versions p WHERE p.request_id = v.request_id AND p.version = v.version - 1)
                   AS "previous: Json<PreviousVersion>",
                  (SELECT coalesce(jsonb_agg(jsonb_build_object('voter', x.voter, 'identity', x.identity,
                     'kind', x.kind, 'roles', x.roles, 'reason', x.reason, 'at', x.at) ORDER BY x.id), '[]'::jsonb)
                   FROM votes x WHERE x.request_id = v.request_id AND x.version = v.version) AS "votes!: Json<Vec<VoteRow>>",
                  v.effect AS "effect: Json<Effect>",
                  (SELECT jsonb_build_object('status', e.status, 'rows', e.rows, 'error', e.error) FROM request_effects e
                   WHERE e.request_id = v.request_id AND e.version = v.version) AS "effect_run: Json<EffectRun>",
                  v.preview AS "preview: Json<EffectPreview>"
           FROM request_versions v WHERE v.request_id = $1 AND v.version = $2"#,
        request_id,
        version
    )
    .fetch_one(db)
    .await
    .context("reading a request version and its votes")?;
    let v = VersionRow {
        version,
        fields: r.fields,
        rule: r.rule,
        groups: r.groups,
        policy_hash: r.policy_hash,
        created_by: r.created_by,
        created_at: r.version_created_at,
        previous: r.previous.map(|Json(p)| p),
        effect: r.effect.map(|Json(e)| e),
        effect_run: r.effect_run.map(|Json(x)| x),
        preview: r.preview.map(|Json(p)| p),
    };
    Ok((v, r.votes.0))
}

/// The requests with these refs (unknown refs are left out), without locking them.
pub async fn by_refs(db: impl PgExecutor<'_>, refs: &[String]) -> anyhow::Result<Vec<Snapshot>> {
    let rows = sqlx::query_as!(
        SnapshotRow,
        r#"SELECT r.id, r.ref AS "ref: Ref", r.workflow, r.requester AS "requester: PersonId", r.requester_identity, r.status AS "status: Status",
                  r.version, r.created_at, r.expires_at, r.decided_at, r.origin AS "origin: Json<ChatPlace>",
                  v.fields AS "fields: Json<Fields>", v.rule, v.groups AS "groups: Json<Vec<StoredGroup>>",
                  v.policy_hash, v.created_by, v.created_at AS version_created_at,
                  (SELECT jsonb_build_object('fields', p.fields, 'rule', p.rule, 'votes',
                     (SELECT count(*) FROM votes x WHERE x.request_id = p.request_id AND x.version = p.version))
                   FROM request_versions p WHERE p.request_id = v.request_id AND p.version = v.version - 1)
                   AS "previous: Json<PreviousVersion>",
                  (SELECT coalesce(jsonb_agg(jsonb_build_object('voter', x.voter, 'identity', x.identity,
                     'kind', x.kind, 'roles', x.roles, 'reason', x.reason, 'at', x.at) ORDER BY x.id), '[]'::jsonb)
                   FROM votes x WHERE x.request_id = v.request_id AND x.version = v.version) AS "votes!: Json<Vec<VoteRow>>",
                  (SELECT d.reason FROM decisions d WHERE d.request_id = r.id AND r.status = 'cancelled') AS cancel_reason,
                  v.effect AS "effect: Json<Effect>",
                  (SELECT jsonb_build_object('status', e.status, 'rows', e.rows, 'error', e.error) FROM request_effects e
                   WHERE e.request_id = v.request_id AND e.version = v.version) AS "effect_run: Json<EffectRun>",
                  v.preview AS "preview: Json<EffectPreview>"
           FROM requests r JOIN request_versions v ON v.request_id = r.id AND v.version = r.version
           WHERE r.ref = ANY($1)"#,
        refs
    )
    .fetch_all(db)
    .await
    .context("reading requests")?;
    Ok(rows.into_iter().map(SnapshotRow::snapshot).collect())
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
    let rows = sqlx::query_as!(
        SnapshotRow,
        r#"SELECT r.id, r.ref AS "ref: Ref", r.workflow, r.requester AS "requester: PersonId", r.requester_identity, r.status AS "status: Status",
                  r.version, r.created_at, r.expires_at, r.decided_at, r.origin AS "origin: Json<ChatPlace>",
                  v.fields AS "fields: Json<Fields>", v.rule, v.groups AS "groups: Json<Vec<StoredGroup>>",
                  v.policy_hash, v.created_by, v.created_at AS version_created_at,
                  (SELECT jsonb_build_object('fields', p.fields, 'rule', p.rule, 'votes',
                     (SELECT count(*) FROM votes x WHERE x.request_id = p.request_id AND x.version = p.version))
                   FROM request_versions p WHERE p.request_id = v.request_id AND p.version = v.version - 1)
                   AS "previous: Json<PreviousVersion>",
                  (SELECT coalesce(jsonb_agg(jsonb_build_object('voter', x.voter, 'identity', x.identity,
                     'kind', x.kind, 'roles', x.roles, 'reason', x.reason, 'at', x.at) ORDER BY x.id), '[]'::jsonb)
                   FROM votes x WHERE x.request_id = v.request_id AND x.version = v.version) AS "votes!: Json<Vec<VoteRow>>",
                  (SELECT d.reason FROM decisions d WHERE d.request_id = r.id AND r.status = 'cancelled') AS cancel_reason,
                  v.effect AS "effect: Json<Effect>",
                  (SELECT jsonb_build_object('status', e.status, 'rows', e.rows, 'error', e.error) FROM request_effects e
                   WHERE e.request_id = v.request_id AND e.version = v.version) AS "effect_run: Json<EffectRun>",
                  v.preview AS "preview: Json<EffectPreview>"
           FROM requests r JOIN request_versions v ON v.request_id = r.id AND v.version = r.version
           WHERE ($1::text IS NULL OR r.status = $1) AND ($2::text IS NULL OR r.requester = $2)
             AND r.workflow = ANY($3) AND ($5::int8 IS NULL OR r.id < $5)
           ORDER BY r.id DESC LIMIT $4"#,
        q.status.map(Status::as_str),
        q.requester.as_deref(),
        &q.workflows,
        q.limit,
        q.before
    )
    .fetch_all(db)
    .await
    .context("listing requests")?;
    Ok(rows.into_iter().map(SnapshotRow::snapshot).collect())
}
