//! The axum router: platform routes, the API, health, readiness and metrics.

use crate::chat::address::Platform;
use crate::engine::Engine;
use crate::store;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tracing::Instrument;

/// What the health routes need.
#[derive(Clone, Debug)]
pub struct Health {
    /// The engine (its pool answers "is the database reachable").
    pub engine: Engine,
    /// Cleared when the server starts shutting down, so load balancers stop sending first.
    pub accepting: Arc<AtomicBool>,
}

/// The whole HTTP surface: health, the chat platforms' routes (each under `/<platform>/`), the API.
pub fn router(health: Health, platforms: Vec<Router>, api: Arc<crate::api::ApiApp>) -> Router {
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health);
    for routes in platforms {
        app = app.merge(routes);
    }
    app = app.merge(crate::api::router(api));
    app.layer(axum::middleware::from_fn(track))
}

/// One span per inbound platform request (handlers record its correlation id, which is also
/// stored in the audit entries it causes), and the request counters.
async fn track(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    let platform = match Platform::parse(first) {
        Some(p) => p.as_str(),
        None if first == "api" => "api",
        None => return next.run(req).await,
    };
    let span = tracing::info_span!("request", platform, path = %path, correlation_id = tracing::field::Empty);
    let started = std::time::Instant::now();
    let res = next.run(req).instrument(span.clone()).await;
    let status = res.status();
    let outcome = match status.as_u16() {
        200..=299 => "ok",
        401 => "unauthorized",
        403 => "forbidden",
        413 => "too_large",
        400..=499 => "bad_request",
        _ => "error",
    };
    span.in_scope(|| tracing::info!(status = status.as_u16(), outcome, "answered"));
    crate::metrics::http_request(platform, outcome, started.elapsed());
    res
}

/// Prometheus metrics.
async fn metrics(State(h): State<Health>) -> Response {
    let body = crate::metrics::render(h.engine.pool()).await;
    ([("content-type", "text/plain; version=0.0.4")], body).into_response()
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Ready: accepting, the database reachable, migrations current, commands/ loaded.
async fn readyz(State(h): State<Health>) -> Response {
    let accepting = h.accepting.load(Ordering::SeqCst);
    let database = store::ping(h.engine.pool()).await;
    let migrations = database && store::migrations_current(h.engine.pool()).await.unwrap_or(false);
    let commands = !h.engine.policy().workflows.is_empty();
    let ready = accepting && database && migrations && commands;
    let body = Json(json!({
        "ready": ready,
        "accepting": accepting,
        "database": database,
        "migrations": migrations,
        "commands": commands,
        "workflows": h.engine.policy().workflows.len(),
    }));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}
