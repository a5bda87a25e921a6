//! The API's handlers: each authenticates the caller, hands the action to the engine (which
//! checks permission and audits), and translates the outcome into JSON.

use super::error::ApiError;
use super::receipt::{self, ReceiptError};
use super::view::{query_pairs, request_json};
use super::{ApiApp, AuthError};
use crate::approval::{RefusalReason, Status};
use crate::audit::{self, Action, ExportFilter};
use crate::engine::{Attempt, Context, Outcome, Page, Refusal};
use crate::identity::{self, Identity};
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Shared = State<Arc<ApiApp>>;

/// The correlation id of an API call: the caller's `X-Request-Id` when it is sane, else a new one.
fn correlation(headers: &HeaderMap) -> String {
    let given = headers.get("x-request-id").and_then(|v| v.to_str().ok()).filter(|v| {
        !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    });
    let id = match given {
        Some(v) => format!("api-{v}"),
        // Time-ordered, so correlation ids sort the way the calls came in.
        None => format!("api-{}", uuid::Uuid::now_v7()),
    };
    tracing::Span::current().record("correlation_id", id.as_str());
    id
}

/// Authenticates the caller of an attempt at `action`; a failure is audited and answered 401.
/// A server with no API key at all answers 501 and records nothing: no credential was checked,
/// and anyone who can reach the port must not be able to fill the audit log.
pub(super) async fn caller(
    app: &ApiApp,
    headers: &HeaderMap,
    action: Action,
    r#ref: Option<&str>,
) -> Result<Context, ApiError> {
    if !app.auth.is_configured() {
        return Err(ApiError::NotConfigured(AuthError::NotConfigured.to_string()));
    }
    let correlation_id = correlation(headers);
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let verified = app.auth.verify(authorization, app.engine.clock().now());
    let (identity, error) = match verified {
        Ok(claims) => {
            let identity = Identity::Api(claims.sub.clone());
            match identity::resolve(&app.engine.policy().directory, &identity) {
                Some(actor) => {
                    return Ok(Context {
                        correlation_id: Some(correlation_id),
                        ..Context::new(actor)
                    })
                }
                None => (identity, AuthError::UnknownSubject(claims.sub)),
            }
        }
        Err(e) => (Identity::ApiUnverified, e),
    };
    let refusal = Refusal::new(RefusalReason::Unauthenticated, error.to_string());
    let attempt = Attempt {
        identity: &identity,
        actor: None,
        action,
        r#ref,
        correlation_id: Some(correlation_id),
        details: json!({}),
    };
    app.engine.record_refusal(&attempt, &refusal, None).await?;
    Err(ApiError::Unauthenticated(error))
}

/// Refuses input that never reached a use case (a malformed body or query), audited as the
/// attempted action by the known caller.
pub(super) async fn refuse_input(app: &ApiApp, ctx: &Context, action: Action, message: String) -> ApiError {
    let refusal = Refusal::new(RefusalReason::InvalidInput, message);
    let attempt = Attempt {
        identity: &ctx.actor.identity,
        actor: Some(ctx.actor.person.to_string()),
        action,
        r#ref: None,
        correlation_id: ctx.correlation_id.clone(),
        details: json!({}),
    };
    match app.engine.record_refusal(&attempt, &refusal, None).await {
        Ok(()) => ApiError::BadRequest(refusal.message),
        Err(e) => ApiError::Internal(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    workflow: String,
    #[serde(default)]
    fields: Map<String, Value>,
}

/// `POST /api/v1/requests`: opens a request; `Idempotency-Key` makes a retry return the first answer.
pub(super) async fn open(State(app): Shared, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let mut ctx = caller(&app, &headers, Action::RequestOpened, None).await?;
    let parsed: OpenBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("the body must be JSON like {{\"workflow\": \"invoice\", \"fields\": {{\"amount\": \"1200.00\"}}}}: {e}");
            return Err(refuse_input(&app, &ctx, Action::RequestOpened, msg).await);
        }
    };
    let mut raw = Vec::with_capacity(parsed.fields.len());
    for (name, value) in parsed.fields {
        let text = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => {
                let msg = format!("field `{name}` must be a string or a number, not {other}");
                return Err(refuse_input(&app, &ctx, Action::RequestOpened, msg).await);
            }
        };
        raw.push((name, text));
    }
    if let Some(key) = headers.get("idempotency-key") {
        match key
            .to_str()
            .ok()
            .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()))
        {
            Some(k) => ctx.idempotency_key = Some(format!("api:{}:{k}", ctx.actor.person)),
            None => {
                let msg = "Idempotency-Key must be 1 to 200 visible ASCII characters (a UUID is ideal)".to_owned();
                return Err(refuse_input(&app, &ctx, Action::RequestOpened, msg).await);
            }
        }
    }
    match app.engine.open(&ctx, &parsed.workflow, &raw).await? {
        Outcome::Refused { refusal } => Err(ApiError::Refused(refusal)),
        outcome => {
            let view = outcome
                .request()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("opening answered {outcome:?}"))?;
            let location = format!("/api/v1/requests/{}", view.r#ref);
            Ok((
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(request_json(&view)),
            )
                .into_response())
        }
    }
}

/// `GET /api/v1/requests/{ref}`: status, version, fields, votes and what is still needed.
pub(super) async fn show(
    State(app): Shared,
    headers: HeaderMap,
    Path(r#ref): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = caller(&app, &headers, Action::RequestViewed, Some(&r#ref)).await?;
    let view = app.engine.show(&ctx, &r#ref).await?.map_err(ApiError::Refused)?;
    Ok(Json(request_json(&view)).into_response())
}

/// `GET /api/v1/requests/{ref}/audit`: the request's audit trail.
pub(super) async fn trail(
    State(app): Shared,
    headers: HeaderMap,
    Path(r#ref): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = caller(&app, &headers, Action::RequestViewed, Some(&r#ref)).await?;
    let entries = app.engine.history(&ctx, &r#ref).await?.map_err(ApiError::Refused)?;
    let entries: Vec<Value> = entries.iter().map(|e| e.to_json()).collect();
    Ok(Json(json!({ "ref": r#ref, "entries": entries })).into_response())
}

/// `GET /api/v1/requests/{ref}/receipt`: the signed receipt of a decided request.
pub(super) async fn receipt(
    State(app): Shared,
    headers: HeaderMap,
    Path(r#ref): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = caller(&app, &headers, Action::RequestViewed, Some(&r#ref)).await?;
    let view = app.engine.show(&ctx, &r#ref).await?.map_err(ApiError::Refused)?;
    let signer = app.receipts.as_ref().ok_or_else(|| {
        ApiError::NotConfigured("Receipts are not configured on this server: set COUNTERSIGN_RECEIPT_KEY.".into())
    })?;
    let claims = receipt::claims(&app.engine, &view).await.map_err(|e| match e {
        ReceiptError::NotFinal(_) => ApiError::NotFinal(e.to_string()),
        ReceiptError::NotSealed(_) => ApiError::Unavailable(e.to_string()),
        ReceiptError::Other(e) => ApiError::Internal(e),
    })?;
    let token = signer.sign(&claims)?;
    Ok(Json(json!({ "ref": view.r#ref, "status": view.status.as_str(), "kid": signer.kid(), "receipt": token, "claims": claims })).into_response())
}

/// `GET /api/v1/requests?status=&workflow=&limit=&cursor=`: one page of visible requests.
pub(super) async fn list(State(app): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let ctx = caller(&app, &headers, Action::RequestViewed, None).await?;
    let mut page = Page {
        status: None,
        mine: false,
        workflow: None,
        before: None,
        limit: 50,
    };
    let pairs = match query_pairs(q.as_deref(), &["status", "workflow", "limit", "cursor", "mine"]) {
        Ok(p) => p,
        Err(m) => return Err(refuse_input(&app, &ctx, Action::RequestViewed, m).await),
    };
    for (k, v) in pairs {
        let bad = match k.as_str() {
            "status" => v
                .parse::<Status>()
                .map(|s| page.status = Some(s))
                .err()
                .map(|_| format!("status `{v}` is not one of pending, approved, rejected, cancelled, expired")),
            "workflow" if app.engine.policy().workflow(&v).is_some() => {
                page.workflow = Some(v);
                None
            }
            "workflow" => Some(format!("there is no workflow `{v}`")),
            "limit" => match v.parse::<i64>() {
                Ok(n) if (1..=200).contains(&n) => {
                    page.limit = n;
                    None
                }
                _ => Some(format!("limit `{v}` must be a whole number from 1 to 200")),
            },
            "cursor" => match v.parse::<i64>() {
                Ok(n) if n > 0 => {
                    page.before = Some(n);
                    None
                }
                _ => Some(format!("cursor `{v}` is not one this API gave out (next_cursor)")),
            },
            _ => match v.as_str() {
                "true" | "false" => {
                    page.mine = v == "true";
                    None
                }
                _ => Some(format!("mine `{v}` must be true or false")),
            },
        };
        if let Some(m) = bad {
            return Err(refuse_input(&app, &ctx, Action::RequestViewed, m).await);
        }
    }
    let (views, next) = app.engine.list_page(&ctx, &page).await?;
    let requests: Vec<Value> = views.iter().map(request_json).collect();
    Ok(Json(json!({ "requests": requests, "next_cursor": next.map(|n| n.to_string()) })).into_response())
}

/// `GET /api/v1/audit?since=&until=`: the sealed audit log as JSON lines, for the auditor role.
pub(super) async fn audit_log(
    State(app): Shared,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let ctx = caller(&app, &headers, Action::AuditExported, None).await?;
    let mut filter = ExportFilter::default();
    let pairs = match query_pairs(q.as_deref(), &["since", "until"]) {
        Ok(p) => p,
        Err(m) => return Err(refuse_input(&app, &ctx, Action::AuditExported, m).await),
    };
    for (k, v) in pairs {
        let Ok(t) = DateTime::parse_from_rfc3339(&v).map(|t| t.with_timezone(&Utc)) else {
            let m = format!("{k} `{v}` must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z");
            return Err(refuse_input(&app, &ctx, Action::AuditExported, m).await);
        };
        if k == "since" {
            filter.since = Some(t);
        } else {
            filter.until = Some(t);
        }
    }
    let period = json!({ "since": filter.since, "until": filter.until });
    app.engine
        .authorize_audit_export(&ctx, period)
        .await?
        .map_err(ApiError::Refused)?;
    // Chain what has settled, so the pull reaches as close to now as the chain allows.
    audit::seal(app.engine.pool()).await?;
    let body = Body::from_stream(audit::jsonl_stream(app.engine.pool().clone(), filter));
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

/// `GET /.well-known/jwks.json`: the key that signs receipts.
pub(super) async fn jwks(State(app): Shared) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(receipt::jwks(app.receipts.as_ref())),
    )
        .into_response()
}
