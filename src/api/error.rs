//! What the API answers when it does not do what was asked: a status and a JSON body with a
//! stable `error` code and a `message` that says what to do. Internal details go to the log.

use super::auth::AuthError;
use crate::approval::RefusalReason;
use crate::engine::Refusal;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An API failure, as the caller sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid token (401).
    #[error(transparent)]
    Unauthenticated(AuthError),
    /// The engine refused the action (403, 404, 409 or 422 by its reason).
    #[error("{}", .0.message)]
    Refused(Refusal),
    /// The request itself is malformed: a bad query parameter or body (400).
    #[error("{0}")]
    BadRequest(String),
    /// A receipt asked for before the request is decided (409).
    #[error("{0}")]
    NotFinal(String),
    /// Something the server cannot reach or finish now (503); retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// Something this server is not set up for (501); retrying will not help until an operator
    /// configures it.
    #[error("{0}")]
    NotConfigured(String),
    /// A failure of ours (500); the detail is logged, not shown.
    #[error("internal error")]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

/// The HTTP status for a refusal's reason.
fn status_of(reason: RefusalReason) -> StatusCode {
    match reason {
        RefusalReason::Unauthenticated => StatusCode::UNAUTHORIZED,
        RefusalReason::NotPermitted | RefusalReason::SelfApproval => StatusCode::FORBIDDEN,
        RefusalReason::UnknownRef => StatusCode::NOT_FOUND,
        RefusalReason::InvalidInput | RefusalReason::ReasonRequired => StatusCode::UNPROCESSABLE_ENTITY,
        RefusalReason::AlreadyVoted
        | RefusalReason::GroupFull
        | RefusalReason::StaleVersion
        | RefusalReason::AlreadyDecided => StatusCode::CONFLICT,
    }
}

/// Whether a failure means the database is out of reach (so the caller should retry).
fn database_unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<sqlx::Error>().is_some_and(|e| {
            matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_)
            )
        })
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::Unauthenticated(e) => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": "unauthenticated", "message": e.to_string() }),
            ),
            ApiError::Refused(r) => {
                let mut body = json!({ "error": r.reason.as_str(), "message": r.message });
                if !r.fields.is_empty() {
                    body["fields"] = json!(r.fields);
                }
                (status_of(r.reason), body)
            }
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!({ "error": "bad_request", "message": m })),
            ApiError::NotFinal(m) => (StatusCode::CONFLICT, json!({ "error": "not_final", "message": m })),
            ApiError::NotConfigured(m) => (
                StatusCode::NOT_IMPLEMENTED,
                json!({ "error": "not_configured", "message": m }),
            ),
            ApiError::Unavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "unavailable", "message": m }),
            ),
            ApiError::Internal(e) if database_unreachable(e) => {
                tracing::warn!(error = %format!("{e:#}"), "API call failed: the database is out of reach");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({ "error": "unavailable", "message": "Not recorded: the database is out of reach. Nothing changed; try again in a moment." }),
                )
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "API call failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "error": "internal", "message": "Something went wrong on our side; nothing was changed. The server's log has the details." }),
                )
            }
        };
        // RFC 6750: a request without credentials gets the challenge alone, no error code.
        let challenge = match &self {
            ApiError::Unauthenticated(AuthError::Missing) => "Bearer realm=\"countersign\"",
            _ => "Bearer realm=\"countersign\", error=\"invalid_token\"",
        };
        let mut res = (status, Json(body)).into_response();
        match status {
            StatusCode::UNAUTHORIZED => {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            _ => {}
        }
        res
    }
}
