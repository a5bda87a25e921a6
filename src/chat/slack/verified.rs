//! The signed-request extractor every Slack HTTP route takes: it reads the raw body (within the
//! body limit) and checks its signature before anything is parsed, so a route cannot forget the
//! check. A bad signature is 401 and writes nothing.

use super::handlers::SlackApp;
use super::verify::SignatureError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A Slack request whose signature held: its raw body, and the correlation id it is traced by.
#[derive(Clone, Debug)]
pub struct VerifiedSlackRequest {
    /// The body exactly as signed.
    pub body: Bytes,
    /// Derived from the signature, so Slack's retries of one request share it.
    pub correlation: String,
}

impl FromRequest<Arc<SlackApp>> for VerifiedSlackRequest {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Arc<SlackApp>) -> Result<Self, Response> {
        let headers = req.headers().clone();
        // `Bytes` honours the router's body limit: an oversized body is refused unread.
        let body = Bytes::from_request(req, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let correlation = verified(app, &headers, &body).map_err(unauthorized)?;
        Ok(VerifiedSlackRequest { body, correlation })
    }
}

/// Checks the signature on the raw body; returns the request's correlation id.
fn verified(app: &SlackApp, headers: &HeaderMap, body: &[u8]) -> Result<String, SignatureError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ts = header("x-slack-request-timestamp");
    let sig = header("x-slack-signature");
    match app.verifier.verify(ts, sig, body) {
        Ok(()) => {
            // Stable across Slack's retries of the same request, unique otherwise.
            let digest = Sha256::digest(format!("{}:{}", ts.unwrap_or_default(), sig.unwrap_or_default()));
            let correlation = format!("slack-{}", &hex::encode(digest)[..16]);
            tracing::Span::current().record("correlation_id", correlation.as_str());
            Ok(correlation)
        }
        Err(e) => {
            tracing::warn!(reason = %e, "refused a Slack request with a bad signature");
            Err(e)
        }
    }
}

/// The answer to a request whose signature did not hold: 401, and nothing was written.
fn unauthorized(e: SignatureError) -> Response {
    (StatusCode::UNAUTHORIZED, format!("invalid Slack signature: {e}")).into_response()
}
