//! The Slack routes: every request's signature is checked on the raw body before anything is
//! parsed; a failure is 401 and writes nothing. Work is acknowledged within Slack's 3 seconds.

use super::blocks;
use super::commands;
use super::interactions;
use super::{SlackApi, SlackVerifier};
use crate::audit::Action;
use crate::chat::dispatch::{Audience, Message};
use crate::engine::{Engine, Refusal, ReplyTo};
use crate::identity::{self, Actor, Identity};
use crate::outbox::{ChatPlace, Platform};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The largest body Slack is allowed to send us (a big modal submission is well under it).
pub const MAX_BODY: usize = 256 * 1024;

/// What the Slack routes share.
#[derive(Clone, Debug)]
pub struct SlackApp {
    /// The engine.
    pub engine: Engine,
    /// Checks signatures.
    pub verifier: SlackVerifier,
    /// The Web API (modals are opened directly: their trigger expires in 3 seconds).
    pub api: SlackApi,
    /// How long a handler may work before it acknowledges and finishes in the background.
    pub ack_budget: Duration,
}

/// `POST /slack/commands`, `/slack/interactions`, `/slack/events`.
pub fn router(app: Arc<SlackApp>) -> Router {
    Router::new()
        .route("/slack/commands", post(commands::handle))
        .route("/slack/interactions", post(interactions::handle))
        .route("/slack/events", post(events))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// Checks the signature on the raw body; the error is the 401 to send.
pub(super) fn verified(app: &SlackApp, headers: &HeaderMap, body: &[u8]) -> Result<String, Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ts = header("x-slack-request-timestamp");
    let sig = header("x-slack-signature");
    match app.verifier.verify(ts, sig, body) {
        Ok(()) => {
            // Stable across Slack's retries of the same request, unique otherwise.
            let digest = Sha256::digest(format!("{}:{}", ts.unwrap_or_default(), sig.unwrap_or_default()));
            Ok(format!("slack-{}", &hex::encode(digest)[..16]))
        }
        Err(e) => {
            tracing::warn!(reason = %e, "refused a Slack request with a bad signature");
            Err((StatusCode::UNAUTHORIZED, format!("invalid Slack signature: {e}")).into_response())
        }
    }
}

/// The person behind a Slack user, or the audited refusal to show them.
pub(super) async fn actor(
    app: &SlackApp,
    workspace: Option<&str>,
    user: Option<&str>,
    attempted: Action,
    correlation: &str,
    reply_to: Option<&ReplyTo>,
) -> anyhow::Result<Result<Actor, Refusal>> {
    let identity = Identity::Slack {
        workspace: workspace.unwrap_or("?").to_string(),
        user: user.unwrap_or("?").to_string(),
    };
    if let Some(actor) = identity::resolve(&app.engine.policy().directory, &identity) {
        return Ok(Ok(actor));
    }
    let refusal = app.engine.refuse_unauthenticated(&identity, attempted, Some(correlation.to_string()), reply_to).await?;
    Ok(Err(refusal))
}

/// A Slack channel in a workspace.
pub(super) fn place(workspace: Option<&str>, channel: Option<&str>) -> Option<ChatPlace> {
    channel.map(|c| ChatPlace { platform: Platform::Slack, workspace: workspace.map(str::to_owned), channel: c.to_string() })
}

/// An ephemeral answer in the HTTP response (slash commands).
pub(super) fn ephemeral(text: &str, blocks: Option<Vec<Value>>) -> Response {
    let mut body = json!({ "response_type": "ephemeral", "text": text });
    if let Some(b) = blocks {
        body["blocks"] = Value::Array(b);
    }
    Json(body).into_response()
}

/// What the caller sees of dispatched messages: their text, and cards as blocks.
pub(super) fn caller_reply(messages: &[Message]) -> Response {
    let mut texts = Vec::new();
    let mut all_blocks = Vec::new();
    for m in messages.iter().filter(|m| m.to == Audience::Caller) {
        if !m.text.is_empty() {
            texts.push(m.text.clone());
            all_blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("```{}```", blocks::escape(&m.text)) } }));
        }
        if let Some(card) = &m.card {
            texts.push(blocks::card_fallback(card));
            all_blocks.extend(blocks::card_blocks(card));
        }
    }
    let text = texts.join("\n");
    let has_card = messages.iter().any(|m| m.to == Audience::Caller && m.card.is_some());
    ephemeral(&text, has_card.then_some(all_blocks))
}

/// Runs `work` but answers within the budget: if it takes longer, it finishes in the background
/// and `late` is returned now.
pub(super) async fn within_budget<F>(app: &SlackApp, work: F, late: Response) -> Response
where
    F: std::future::Future<Output = Response> + Send + 'static,
{
    let task = tokio::spawn(work);
    match tokio::time::timeout(app.ack_budget, task).await {
        Ok(Ok(response)) => response,
        Ok(Err(join)) => {
            tracing::error!(error = %join, "a Slack handler failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error; nothing was recorded").into_response()
        }
        Err(_) => late,
    }
}

/// An error inside a handler: logged in full, shown to the person without internals.
pub(super) fn failure(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "a Slack action failed");
    ephemeral("Countersign could not record that just now (the database may be unavailable). Nothing was changed: please try again.", None)
}

/// `POST /slack/events`: answers the URL check; other events are acknowledged and logged.
async fn events(State(app): State<Arc<SlackApp>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = verified(&app, &headers, &body) {
        return refused;
    }
    let retry = headers.get("x-slack-retry-num").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let event: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("the event body is not JSON: {e}")).into_response(),
    };
    match event.get("type").and_then(Value::as_str) {
        Some("url_verification") => {
            let challenge = event.get("challenge").cloned().unwrap_or(Value::Null);
            Json(json!({ "challenge": challenge })).into_response()
        }
        kind => {
            let inner = event.pointer("/event/type").and_then(Value::as_str);
            tracing::info!(kind = ?kind, event = ?inner, retry = ?retry, "Slack event acknowledged and ignored");
            StatusCode::OK.into_response()
        }
    }
}
