//! The interactions endpoint's signature check as an axum extractor: a handler that takes a
//! [`SignedBody`] cannot run unless the Ed25519 signature over the raw body verified, so a new
//! route cannot forget the check.

use super::handlers::DiscordApp;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The largest interaction body read (Discord's are a few kilobytes).
pub const MAX_BODY: usize = 256 * 1024;

/// The raw bytes of a request whose signature verified; nothing has parsed them yet.
#[derive(Clone, Debug)]
pub struct SignedBody(pub Bytes);

impl<S> FromRequest<S> for SignedBody
where
    S: Send + Sync,
    Arc<DiscordApp>: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let app = Arc::<DiscordApp>::from_ref(state);
        let headers = req.headers().clone();
        // The body limit (DefaultBodyLimit on the router) applies here, before any check.
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Err(e) = app
            .verifier
            .verify(header("x-signature-timestamp"), header("x-signature-ed25519"), &body)
        {
            tracing::warn!(reason = %e, "refused a Discord request with a bad signature");
            return Err((StatusCode::UNAUTHORIZED, format!("invalid request signature: {e}")).into_response());
        }
        Ok(SignedBody(body))
    }
}
