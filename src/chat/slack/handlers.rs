//! The Slack routes: every request's signature is checked on the raw body before anything is
//! parsed; a failure is 401 and writes nothing. Work is acknowledged within Slack's 3 seconds.

use super::blocks;
use super::commands;
use super::inbound::EventEnvelope;
use super::interactions;
use super::verified::VerifiedSlackRequest;
use super::{SlackApi, SlackVerifier};
use crate::audit::Action;
use crate::chat::address::{ChatPlace, ChatUser, Platform};
use crate::chat::dispatch::Reply;
use crate::engine::{Engine, Refusal, ReplyTo};
use crate::identity::{self, Actor, Identity};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use slack_morphism::prelude::{
    SlackBlock, SlackCommandEventResponse, SlackMessageContent, SlackMessageResponseType, SlackViewSubmissionResponse,
};
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

/// The person behind a Slack user, or the audited refusal to show them.
pub(super) async fn actor(
    app: &SlackApp,
    workspace: Option<&str>,
    user: Option<&str>,
    attempted: Action,
    correlation: &str,
    reply_to: Option<&ReplyTo>,
) -> anyhow::Result<Result<Actor, Refusal>> {
    let identity = Identity::Chat(ChatUser {
        platform: Platform::Slack,
        workspace: Some(workspace.unwrap_or("?").to_string()),
        user: user.unwrap_or("?").to_string(),
    });
    if let Some(actor) = identity::resolve(&app.engine.policy().directory, &identity) {
        return Ok(Ok(actor));
    }
    let refusal = app
        .engine
        .refuse_unauthenticated(&identity, attempted, Some(correlation.to_string()), reply_to)
        .await?;
    Ok(Err(refusal))
}

/// A Slack channel in a workspace.
pub(super) fn place(workspace: Option<&str>, channel: Option<&str>) -> Option<ChatPlace> {
    channel.map(|c| ChatPlace {
        platform: Platform::Slack,
        workspace: workspace.map(str::to_owned),
        channel: c.to_string(),
    })
}

/// What a Slack handler answers: a bare acknowledgement, a message for the person (slash
/// commands), or a modal's problems. The same answer goes back over HTTP or as a Socket Mode
/// acknowledgement.
#[derive(Clone, Debug, PartialEq)]
pub enum SlackReply {
    /// 200 with an empty body.
    Ack,
    /// 200 with a message only the person sees.
    Message(SlackCommandEventResponse),
    /// 200 with a `view_submission` answer (problems shown under the modal's inputs).
    View(SlackViewSubmissionResponse),
}

impl IntoResponse for SlackReply {
    fn into_response(self) -> Response {
        match self {
            SlackReply::Ack => StatusCode::OK.into_response(),
            SlackReply::Message(m) => Json(m).into_response(),
            SlackReply::View(v) => Json(v).into_response(),
        }
    }
}

/// An ephemeral answer (slash commands).
pub(super) fn ephemeral(text: &str, blocks: Option<Vec<SlackBlock>>) -> SlackReply {
    let mut content = SlackMessageContent::new().with_text(blocks::escape(text));
    content.blocks = blocks;
    SlackReply::Message(SlackCommandEventResponse::new(content).with_response_type(SlackMessageResponseType::Ephemeral))
}

/// The caller's answer: its text, and its card as blocks.
pub(super) fn caller_reply(reply: &Reply) -> SlackReply {
    let mut texts = Vec::new();
    let mut all_blocks = Vec::new();
    if !reply.text.is_empty() {
        texts.push(reply.text.clone());
        all_blocks.push(blocks::escaped_section(&reply.text));
    }
    if let Some(card) = &reply.card {
        texts.push(card.notification());
        all_blocks.extend(blocks::card_blocks(card));
    }
    ephemeral(&texts.join("\n"), reply.card.is_some().then_some(all_blocks))
}

/// Runs `work` but answers within the budget. If it takes longer, Slack gets `late` now and the
/// work finishes in the background; its reply then reaches `reply_to` through the outbox.
pub(super) async fn within_budget<F>(
    app: &Arc<SlackApp>,
    work: F,
    late: SlackReply,
    reply_to: Option<ReplyTo>,
) -> SlackReply
where
    F: std::future::Future<Output = SlackReply> + Send + 'static,
{
    let mut task = tokio::spawn(tracing::Instrument::in_current_span(work));
    match tokio::time::timeout(app.ack_budget, &mut task).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(join)) => {
            tracing::error!(error = %join, "a Slack handler failed");
            ephemeral(UNAVAILABLE, None)
        }
        Err(_) => {
            let app = app.clone();
            tokio::spawn(async move {
                let text = match task.await {
                    // The reply's text is escaped for Slack already; the outbox escapes again.
                    Ok(SlackReply::Message(m)) => m.content.text.as_deref().map(blocks::unescape),
                    _ => None,
                };
                if let (Some(text), Some(to)) = (text, reply_to) {
                    let intent = crate::outbox::Intent::Ephemeral {
                        place: to.place,
                        user: to.user,
                        text,
                    };
                    if let Err(e) = app.engine.send(&intent).await {
                        tracing::error!(error = %format!("{e:#}"), "could not queue a late reply");
                    }
                }
            });
            late
        }
    }
}

const UNAVAILABLE: &str =
    "Countersign could not record that just now (the database may be unavailable). Nothing was changed: please try again.";

/// An error inside a handler: logged in full, shown to the person without internals.
pub(super) fn failure(e: anyhow::Error) -> SlackReply {
    tracing::error!(error = %format!("{e:#}"), "a Slack action failed");
    ephemeral(UNAVAILABLE, None)
}

/// `POST /slack/events`: answers the URL check; other events are acknowledged and logged.
async fn events(headers: HeaderMap, signed: VerifiedSlackRequest) -> Response {
    let retry = headers
        .get("x-slack-retry-num")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let event = match serde_json::from_slice(&signed.body) {
        Ok(v) => EventEnvelope::from_json(&v),
        Err(e) => return (StatusCode::BAD_REQUEST, format!("the event body is not JSON: {e}")).into_response(),
    };
    match event.kind.get() {
        Some("url_verification") => {
            let challenge = event.challenge.unwrap_or(serde_json::Value::Null);
            Json(json!({ "challenge": challenge })).into_response()
        }
        kind => {
            let inner = event.event.0.as_ref().and_then(|e| e.kind.get());
            tracing::info!(kind = ?kind, event = ?inner, retry = ?retry, "Slack event acknowledged and ignored");
            StatusCode::OK.into_response()
        }
    }
}
