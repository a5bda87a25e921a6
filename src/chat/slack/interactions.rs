//! Interactivity: card buttons (Approve, Reject, Details) and modal submissions (a new request,
//! a reject's reason). Clicks are acknowledged at once; results reach the person through the
//! outbox (updated cards, ephemeral refusals); modal errors come back inline.

use super::blocks::{self, ModalContext, NEW_CALLBACK, REJECT_CALLBACK};
use super::handlers::{actor, failure, place, within_budget, SlackApp, SlackReply};
use super::inbound::{self, ButtonPress, Interaction, Who};
use super::verified::VerifiedSlackRequest;
use crate::approval::{Ref, VoteKind};
use crate::audit::Action;
use crate::chat::address::{ChatPlace, Platform};
use crate::chat::platform::{ChatPlatform, Form, FormTrigger};
use crate::chat::render::{self, ButtonKind};
use crate::engine::{Context, Outcome, ReplyTo};
use crate::outbox::Intent;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// `POST /slack/interactions`.
pub async fn handle(State(app): State<Arc<SlackApp>>, signed: VerifiedSlackRequest) -> Response {
    let payload = match inbound::interaction_payload(&signed.body) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    answer(&app, payload, signed.correlation).await.into_response()
}

/// Answers an interaction (over HTTP or Socket Mode), within Slack's time budget.
pub async fn answer(app: &Arc<SlackApp>, payload: Interaction, correlation: String) -> SlackReply {
    let work_app = app.clone();
    let work = async move {
        match route(&work_app, payload.clone(), correlation).await {
            Ok(reply) => reply,
            Err(e) => {
                tell_directly(&work_app, &payload).await;
                failure(e)
            }
        }
    };
    within_budget(app, work, SlackReply::Ack, None).await
}

/// When the database is unavailable nothing can be queued, so the person is told directly that
/// their click was not recorded (a button's HTTP answer is never shown to them).
async fn tell_directly(app: &SlackApp, payload: &Interaction) {
    let who = inbound::who(payload);
    if let (Some(user), Some(channel)) = (who.user, who.channel) {
        let text = "Countersign could not record that just now (the database is unavailable). Nothing was changed: please try again in a moment.";
        let sent = if channel.starts_with('D') {
            app.api.post_message(&user, text, &[]).await.map(|_| ())
        } else {
            app.api.post_ephemeral(&channel, &user, text).await
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not tell the person their click was not recorded");
        }
    }
}

async fn route(app: &SlackApp, payload: Interaction, correlation: String) -> anyhow::Result<SlackReply> {
    let kind = payload.kind();
    let callback = payload.callback();
    match (kind, callback) {
        ("block_actions", _) => {
            for press in inbound::presses(&payload) {
                button(app, &payload, &press, &correlation).await?;
            }
            Ok(SlackReply::Ack)
        }
        ("view_submission", NEW_CALLBACK) => new_request(app, &payload, &correlation).await,
        ("view_submission", REJECT_CALLBACK) => reject_reason(app, &payload, &correlation).await,
        _ => {
            tracing::info!(
                kind,
                callback,
                "Slack interaction acknowledged and ignored (not one of ours)"
            );
            Ok(SlackReply::Ack)
        }
    }
}

fn reply_to(who: &Who) -> Option<ReplyTo> {
    let user = who.user.clone()?;
    let place = place(who.workspace.as_deref(), Some(who.channel.as_deref().unwrap_or(&user)))?;
    Some(ReplyTo { place, user })
}

/// A button on one of our cards.
async fn button(app: &SlackApp, payload: &Interaction, press: &ButtonPress, correlation: &str) -> anyhow::Result<()> {
    let attempted = match ButtonKind::from_id(&press.action_id) {
        Some(ButtonKind::Approve) => Action::VoteApprove,
        Some(ButtonKind::Reject) => Action::VoteReject,
        Some(ButtonKind::Details) => Action::RequestViewed,
        None => {
            tracing::info!(
                action_id = %press.action_id,
                "Slack button acknowledged and ignored (not one of ours)"
            );
            return Ok(());
        }
    };
    let who = inbound::who(payload);
    let reply = reply_to(&who);
    let person = match actor(
        app,
        who.workspace.as_deref(),
        who.user.as_deref(),
        attempted,
        correlation,
        reply.as_ref(),
    )
    .await?
    {
        Ok(a) => a,
        Err(_) => return Ok(()),
    };
    let value = press.value.clone().unwrap_or_default();
    let (r#ref, version) = crate::chat::command::button_vote_target(&value);
    let version = Some(version);
    let r#ref = Ref::parse(&r#ref).map(|r| r.to_string()).unwrap_or(r#ref);
    let ctx = Context {
        // Without Slack's action_ts, the signed request itself (its correlation id) is the key.
        idempotency_key: Some(match &press.action_ts {
            Some(ts) => format!(
                "slack:{}:{}:{}:{ts}",
                who.workspace.as_deref().unwrap_or("-"),
                who.user.as_deref().unwrap_or("-"),
                press.action_id
            ),
            None => format!("slack:action:{correlation}"),
        }),
        correlation_id: Some(correlation.to_string()),
        reply_to: reply.clone(),
        ..Context::new(person)
    };
    match attempted {
        Action::VoteApprove => {
            app.engine.vote(&ctx, &r#ref, version, VoteKind::Approve, None).await?;
        }
        Action::VoteReject => {
            let Some(trigger) = payload.trigger_id.get() else {
                return Ok(());
            };
            let place = who.channel.as_ref().map(|channel| ChatPlace {
                platform: Platform::Slack,
                workspace: who.workspace.clone(),
                channel: channel.clone(),
            });
            let on = FormTrigger {
                trigger_id: Some(trigger),
                place: place.as_ref(),
            };
            let form = Form::RejectReason { r#ref: &r#ref, version };
            if let Err(e) = app.api.open_form(on, form).await {
                tracing::warn!(error = %e, "could not open the reject form");
            }
        }
        _ => {
            let text = match app.engine.history(&ctx, &r#ref).await? {
                Ok(entries) => render::history(&r#ref, &entries),
                Err(refusal) => render::refusal(&refusal),
            };
            if let Some(to) = reply {
                app.engine
                    .send(&Intent::Ephemeral {
                        place: to.place,
                        user: to.user,
                        text: format!("```{text}```"),
                    })
                    .await?;
            }
        }
    }
    Ok(())
}

fn metadata(payload: &Interaction) -> ModalContext {
    payload
        .view()
        .and_then(|v| v.private_metadata.get())
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default()
}

/// A key for one submission of a modal: the same values resubmitted are a replay; corrected
/// values after an error are a new attempt.
fn submission_key(payload: &Interaction, values: &[(String, String)]) -> Option<String> {
    let view = payload.view()?.id.get()?;
    let digest = Sha256::digest(serde_json::to_string(values).unwrap_or_default());
    Some(format!("slack:view:{view}:{}", &hex::encode(digest)[..16]))
}

fn inline_errors(outcome: &Outcome, first_block: &str) -> Option<SlackReply> {
    let refusal = outcome.refusal()?;
    let errors: Vec<(String, String)> = if refusal.fields.is_empty() {
        vec![(first_block.to_string(), refusal.message.clone())]
    } else {
        refusal
            .fields
            .iter()
            .map(|f| (f.field.clone(), f.message.clone()))
            .collect()
    };
    Some(SlackReply::View(blocks::field_errors(&errors)))
}

/// A submitted modal: where it came from, who sent it, and what they entered.
struct Submission {
    meta: ModalContext,
    user: Option<String>,
    workspace: Option<String>,
    values: Vec<(String, String)>,
    ctx: Context,
}

/// Reads a submission and resolves its sender; an unknown sender gets the audited refusal
/// shown under `error_block`.
async fn submission(
    app: &SlackApp,
    payload: &Interaction,
    correlation: &str,
    attempted: Action,
    error_block: &str,
) -> anyhow::Result<Result<Submission, SlackReply>> {
    let meta = metadata(payload);
    let who = inbound::who(payload);
    let workspace = meta.workspace.clone().or(who.workspace.clone());
    let person = match actor(
        app,
        workspace.as_deref(),
        who.user.as_deref(),
        attempted,
        correlation,
        None,
    )
    .await?
    {
        Ok(a) => a,
        Err(refusal) => {
            return Ok(Err(SlackReply::View(blocks::field_errors(&[(
                error_block.to_string(),
                refusal.message,
            )]))));
        }
    };
    let values = inbound::submitted_values(payload);
    let ctx = Context {
        idempotency_key: submission_key(payload, &values),
        correlation_id: Some(correlation.to_string()),
        ..Context::new(person)
    };
    Ok(Ok(Submission {
        meta,
        user: who.user,
        workspace,
        values,
        ctx,
    }))
}

/// The new-request modal was submitted.
async fn new_request(app: &SlackApp, payload: &Interaction, correlation: &str) -> anyhow::Result<SlackReply> {
    let workflow = metadata(payload).subject;
    let first = app
        .engine
        .policy()
        .workflow(&workflow)
        .and_then(|w| w.fields.first())
        .map(|f| f.name.clone());
    let first = first.unwrap_or_else(|| "_".to_string());
    let mut s = match submission(app, payload, correlation, Action::RequestOpened, &first).await? {
        Ok(s) => s,
        Err(reply) => return Ok(reply),
    };
    s.ctx.origin = place(s.workspace.as_deref(), s.meta.channel.as_deref());
    let outcome = app.engine.open(&s.ctx, &workflow, &s.values).await?;
    if let Some(errors) = inline_errors(&outcome, &first) {
        return Ok(errors);
    }
    if let (Some(request), Some(user), Some(place)) = (outcome.request(), s.user, s.ctx.origin) {
        let text = format!("Request {} opened.", request.r#ref);
        app.engine.send(&Intent::Ephemeral { place, user, text }).await?;
    }
    Ok(SlackReply::Ack)
}

/// The reject modal was submitted with a reason.
async fn reject_reason(app: &SlackApp, payload: &Interaction, correlation: &str) -> anyhow::Result<SlackReply> {
    let s = match submission(app, payload, correlation, Action::VoteReject, "reason").await? {
        Ok(s) => s,
        Err(reply) => return Ok(reply),
    };
    let reason = s.values.iter().find(|(k, _)| k == "reason").map(|(_, v)| v.clone());
    let outcome = app
        .engine
        .vote(
            &s.ctx,
            &s.meta.subject,
            s.meta.version,
            VoteKind::Reject,
            reason.as_deref(),
        )
        .await?;
    Ok(inline_errors(&outcome, "reason").unwrap_or(SlackReply::Ack))
}
