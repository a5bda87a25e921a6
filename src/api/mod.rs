//! The HTTP API for other systems (`/api/v1/`): JWT authentication, requests opened and read
//! with the same rules, refusals and audit as chat, the audit log and its signed checkpoints for
//! SIEM pulls, and signed decision receipts published with their key at
//! `/.well-known/jwks.json`.

pub mod auth;
mod checkpoints;
mod error;
pub mod receipt;
mod routes;
mod view;
pub mod webhook;

pub use auth::{ApiAuth, AuthError};
pub use error::ApiError;
pub use receipt::{ReceiptClaims, ReceiptSigner};

use crate::engine::Engine;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use std::sync::Arc;

/// What the API's handlers share.
#[derive(Clone, Debug)]
pub struct ApiApp {
    /// The engine.
    pub engine: Engine,
    /// The keys tokens may be signed with.
    pub auth: ApiAuth,
    /// The receipt key, when configured.
    pub receipts: Option<ReceiptSigner>,
}

/// The API's routes as (method, path), in the order they are served: the OpenAPI document
/// (docs/openapi.yaml) lists exactly these.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    table().into_iter().map(|(m, p, _)| (m, p)).collect()
}

type Route = (&'static str, &'static str, MethodRouter<Arc<ApiApp>>);

/// The one table the router and [`routes`] are built from, so they cannot disagree.
fn table() -> Vec<Route> {
    vec![
        ("POST", "/api/v1/requests", post(routes::open)),
        ("GET", "/api/v1/requests", get(routes::list)),
        ("GET", "/api/v1/requests/{ref}", get(routes::show)),
        ("GET", "/api/v1/requests/{ref}/audit", get(routes::trail)),
        ("GET", "/api/v1/requests/{ref}/receipt", get(routes::receipt)),
        ("GET", "/api/v1/audit", get(routes::audit_log)),
        ("GET", "/api/v1/audit/checkpoints", get(checkpoints::list)),
        ("GET", "/.well-known/jwks.json", get(routes::jwks)),
    ]
}

/// The API's router. Routes of one path with several methods are merged by axum.
pub fn router(app: Arc<ApiApp>) -> Router {
    table()
        .into_iter()
        .fold(Router::new(), |r, (_, path, method)| r.route(path, method))
        .with_state(app)
}
