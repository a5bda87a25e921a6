//! `/approval` as a Slack slash command: the command language, answered ephemerally; `new`
//! with fields missing opens a modal instead.

use super::handlers::{actor, caller_reply, ephemeral, failure, place, within_budget, SlackApp, SlackReply};
use super::inbound::SlashCommand;
use super::verified::VerifiedSlackRequest;
use crate::audit::Action;
use crate::chat::address::{ChatPlace, Platform};
use crate::chat::command::{self, Command};
use crate::chat::dispatch::dispatch;
use crate::chat::platform::{ChatPlatform, Form, FormTrigger};
use crate::chat::render;
use crate::engine::{Context, ReplyTo};
use crate::identity::Actor;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `POST /slack/commands`.
pub async fn handle(State(app): State<Arc<SlackApp>>, signed: VerifiedSlackRequest) -> Response {
    let cmd: SlashCommand = match serde_urlencoded::from_bytes(&signed.body) {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not a slash command form: {e}")).into_response(),
    };
    answer(&app, cmd, signed.correlation).await.into_response()
}

/// Answers a slash command (over HTTP or Socket Mode), within Slack's time budget.
pub async fn answer(app: &Arc<SlackApp>, cmd: SlashCommand, correlation: String) -> SlackReply {
    if cmd.ssl_check.is_some() {
        return SlackReply::Ack;
    }
    let late = ephemeral("Working on it: the answer will follow here in a moment.", None);
    let reply_to = cmd.user_id.clone().and_then(|user| {
        place(cmd.team_id.as_deref(), Some(cmd.channel_id.as_deref().unwrap_or(&user)))
            .map(|place| ReplyTo { place, user })
    });
    let work_app = app.clone();
    within_budget(
        app,
        async move { run(&work_app, cmd, correlation).await.unwrap_or_else(failure) },
        late,
        reply_to,
    )
    .await
}

async fn run(app: &SlackApp, cmd: SlashCommand, correlation: String) -> anyhow::Result<SlackReply> {
    let parsed = command::parse(&cmd.text);
    let attempted = match &parsed {
        Ok(Command::New { .. }) => Action::RequestOpened,
        Ok(Command::Approve { .. }) => Action::VoteApprove,
        Ok(Command::Reject { .. }) => Action::VoteReject,
        Ok(Command::Cancel { .. }) => Action::RequestCancelled,
        Ok(Command::Amend { .. }) => Action::RequestAmended,
        Ok(Command::Retry { .. }) => Action::EffectRetried,
        _ => Action::RequestViewed,
    };
    let workspace = cmd.team_id.as_deref();
    let who = match actor(app, workspace, cmd.user_id.as_deref(), attempted, &correlation, None).await? {
        Ok(a) => a,
        Err(refusal) => return Ok(ephemeral(&render::refusal(&refusal), None)),
    };
    let parsed = match parsed {
        Ok(c) => c,
        Err(e) => return Ok(ephemeral(&e.to_string(), None)),
    };
    let ctx = Context {
        // Slack's trigger id when the command has one; otherwise the request's own signature
        // (the correlation id is a digest of its timestamp and signature), which a replay of
        // the same signed request repeats: either way a replay answers with the first outcome.
        idempotency_key: Some(match &cmd.trigger_id {
            Some(t) => format!("slack:command:{t}"),
            None => format!("slack:command:{correlation}"),
        }),
        correlation_id: Some(correlation),
        origin: place(workspace, cmd.channel_id.as_deref()),
        ..Context::new(who.clone())
    };
    if let Command::New { workflow, fields } = &parsed {
        if let Some(response) = open_form_if_incomplete(app, &who, &cmd, workflow, fields).await {
            return Ok(response);
        }
    }
    let messages = dispatch(&app.engine, &ctx, parsed).await?;
    Ok(caller_reply(&messages))
}

/// Opens the new-request modal when required fields are missing and the person may request.
async fn open_form_if_incomplete(
    app: &SlackApp,
    who: &Actor,
    cmd: &SlashCommand,
    workflow: &str,
    fields: &[(String, String)],
) -> Option<SlackReply> {
    let wf = app.engine.policy().workflow(workflow)?;
    if wf.missing_required(fields).is_empty() || !who.holds_any(&wf.access.request) {
        return None;
    }
    let place = cmd.channel_id.as_ref().map(|channel| ChatPlace {
        platform: Platform::Slack,
        workspace: cmd.team_id.clone(),
        channel: channel.clone(),
    });
    let on = FormTrigger {
        trigger_id: Some(cmd.trigger_id.as_deref()?),
        place: place.as_ref(),
    };
    let form = Form::NewRequest {
        workflow: wf,
        given: fields,
    };
    match app.api.open_form(on, form).await {
        Ok(_) => Some(SlackReply::Ack),
        Err(e) => {
            tracing::warn!(error = %e, "could not open the new-request form");
            let missing: Vec<&str> = wf.missing_required(fields).iter().map(|f| f.name.as_str()).collect();
            Some(ephemeral(
                &format!(
                    "Could not open the form; type the fields instead. Missing: {}.",
                    missing.join(", ")
                ),
                None,
            ))
        }
    }
}
