//! The axum router: platform routes, health and readiness.

use crate::chat::discord::handlers::DiscordApp;
use crate::chat::slack::handlers::{self as slack, SlackApp};
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

/// What the health routes need.
#[derive(Clone, Debug)]
pub struct Health {
    /// The engine (its pool answers "is the database reachable").
    pub engine: Engine,
    /// Cleared when the server starts shutting down, so load balancers stop sending first.
    pub accepting: Arc<AtomicBool>,
}

/// The whole HTTP surface.
pub fn router(health: Health, slack: Option<Arc<SlackApp>>, discord: Option<Arc<DiscordApp>>) -> Router {
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(health);
    if let Some(s) = slack {
        app = app.merge(slack::router(s));
    }
    if let Some(d) = discord {
        app = app.merge(crate::chat::discord::handlers::router(d));
    }
    app
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Ready: accepting, the database reachable, migrations current, commands/ loaded.
async fn readyz(State(h): State<Health>) -> Response {
    let accepting = h.accepting.load(Ordering::SeqCst);
    let database = sqlx::query("SELECT 1").execute(h.engine.pool()).await.is_ok();
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
