//! `GET /api/v1/audit/checkpoints`: the signed checkpoints of the audit chain, oldest first,
//! for a SIEM to pull and keep where the database's owner cannot reach them.

use super::error::ApiError;
use super::routes::{caller, refuse_input};
use super::view::query_pairs;
use super::ApiApp;
use crate::audit::{checkpoint, Action};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

/// How many checkpoints one page holds unless `limit` says fewer.
const PAGE: i64 = 100;
/// The most one page holds.
const MAX_PAGE: i64 = 1000;

/// `?after=SEQ&limit=N`: checkpoints after chain position SEQ (0 by default); the answer's
/// `next_after` is the position to ask after next, or null at the end.
pub(super) async fn list(
    State(app): State<Arc<ApiApp>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let ctx = caller(&app, &headers, Action::AuditCheckpoint, None).await?;
    let (mut after, mut limit) = (0i64, PAGE);
    let pairs = match query_pairs(q.as_deref(), &["after", "limit"]) {
        Ok(p) => p,
        Err(m) => return Err(refuse_input(&app, &ctx, Action::AuditCheckpoint, m).await),
    };
    for (k, v) in pairs {
        let n = v.parse::<i64>().ok();
        let bad = match (k.as_str(), n) {
            ("after", Some(n)) if n >= 0 => {
                after = n;
                None
            }
            ("limit", Some(n)) if (1..=MAX_PAGE).contains(&n) => {
                limit = n;
                None
            }
            ("after", _) => Some(format!(
                "after `{v}` must be a chain position (a whole number, 0 or more)"
            )),
            _ => Some(format!("limit `{v}` must be a whole number from 1 to {MAX_PAGE}")),
        };
        if let Some(m) = bad {
            return Err(refuse_input(&app, &ctx, Action::AuditCheckpoint, m).await);
        }
    }
    app.engine
        .authorize_checkpoints(&ctx)
        .await?
        .map_err(ApiError::Refused)?;
    let page = checkpoint::list(app.engine.pool(), after, limit).await?;
    let next_after = (page.len() as i64 == limit)
        .then(|| page.last().map(|c| c.seq))
        .flatten();
    Ok(
        Json(json!({ "checkpoints": page, "next_after": next_after, "jwks": "/.well-known/jwks.json" }))
            .into_response(),
    )
}
