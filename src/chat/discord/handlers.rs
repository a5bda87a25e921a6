//! `POST /discord/interactions`: the Ed25519 signature is checked on the raw body before anything
//! is parsed (the [`SignedBody`] extractor; 401 otherwise, which Discord probes for); PING is
//! answered; commands, buttons and modals run the same code as every other platform, answered
//! within Discord's 3 seconds.

use super::components::{self as ui, Answer, CardButton, NEW_MODAL, REJECT_MODAL};
use super::inbound::Interaction;
use super::signed::{SignedBody, MAX_BODY};
use super::{DiscordApi, DiscordVerifier};
use crate::approval::{Ref, VoteKind};
use crate::audit::Action;
use crate::chat::address::{ChatPlace, ChatUser, Platform};
use crate::chat::command::{self, Command, CommandError};
use crate::chat::dispatch::{dispatch, Reply};
use crate::chat::platform::{ChatPlatform, Form, FormTrigger, Opened};
use crate::chat::render::{self, ButtonKind, Card};
use crate::engine::{Context, Engine, Outcome};
use crate::identity::{self, Actor, Identity};
use crate::outbox::Intent;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use serenity::all::InteractionType;
use std::sync::Arc;
use std::time::Duration;

/// What the Discord route shares.
#[derive(Clone, Debug)]
pub struct DiscordApp {
    /// The engine.
    pub engine: Engine,
    /// Checks signatures.
    pub verifier: DiscordVerifier,
    /// The REST API.
    pub api: DiscordApi,
    /// How long a handler may work before it defers.
    pub ack_budget: Duration,
}

/// `POST /discord/interactions`.
pub fn router(app: Arc<DiscordApp>) -> Router {
    Router::new()
        .route("/discord/interactions", post(handle))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

async fn handle(State(app): State<Arc<DiscordApp>>, SignedBody(body): SignedBody) -> Response {
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("the interaction is not JSON: {e}")).into_response(),
    };
    let interaction = Interaction::read(payload);
    if let Some(id) = interaction.id() {
        tracing::Span::current().record("correlation_id", format!("discord-{id}").as_str());
    }
    Json(respond(&app, interaction).await).into_response()
}

/// The response to an interaction received as JSON (over the gateway).
pub async fn answer(app: &Arc<DiscordApp>, payload: Value) -> Answer {
    respond(app, Interaction::read(payload)).await
}

/// The response to an interaction (over HTTP or the gateway).
pub async fn respond(app: &Arc<DiscordApp>, i: Interaction) -> Answer {
    match i.kind {
        Some(InteractionType::Ping) => Answer::pong(),
        Some(InteractionType::Autocomplete) => autocomplete(app, &i),
        Some(kind @ (InteractionType::Command | InteractionType::Component | InteractionType::Modal)) => {
            let late = if kind == InteractionType::Component {
                ui::deferred_update()
            } else {
                ui::deferred()
            };
            let token = i.token();
            let work_app = app.clone();
            let work = async move { route(&work_app, &i, kind).await.unwrap_or_else(failure) };
            let mut task = tokio::spawn(tracing::Instrument::in_current_span(work));
            match tokio::time::timeout(app.ack_budget, &mut task).await {
                Ok(Ok(response)) => response,
                Ok(Err(join)) => failure(anyhow::anyhow!("handler failed: {join}")),
                Err(_) => {
                    let app = app.clone();
                    tokio::spawn(async move {
                        let Ok(response) = task.await else { return };
                        let text = response.text().map(str::to_owned);
                        if let (Some(token), Some(text)) = (token, text.filter(|t| !t.is_empty())) {
                            if let Err(e) = app
                                .engine
                                .send(&Intent::InteractionReply {
                                    platform: Platform::Discord,
                                    token,
                                    text,
                                })
                                .await
                            {
                                tracing::error!(error = %format!("{e:#}"), "could not queue a late Discord reply");
                            }
                        }
                    });
                    late
                }
            }
        }
        other => {
            tracing::info!(
                kind = ?other,
                "Discord interaction acknowledged and ignored (unknown type)"
            );
            ui::ephemeral("Countersign does not handle this kind of interaction.", &[])
        }
    }
}

fn failure(e: anyhow::Error) -> Answer {
    tracing::error!(error = %format!("{e:#}"), "a Discord action failed");
    ui::ephemeral(
        "Countersign could not record that just now (the database may be unavailable). Nothing was changed: please try again.",
        &[],
    )
}

fn autocomplete(app: &DiscordApp, i: &Interaction) -> Answer {
    let typed = i.focused().unwrap_or_default().to_lowercase();
    let policy = app.engine.policy();
    ui::choices(
        policy
            .workflows
            .keys()
            .filter(|id| id.contains(&typed))
            .map(String::as_str),
    )
}

async fn route(app: &DiscordApp, i: &Interaction, kind: InteractionType) -> anyhow::Result<Answer> {
    let attempted = match kind {
        InteractionType::Command => Action::RequestViewed,
        InteractionType::Modal => Action::RequestOpened,
        _ => Action::VoteApprove,
    };
    let Some(who) = actor(app, i, attempted).await? else {
        return Ok(ui::ephemeral(&unknown_user(i), &[]));
    };
    let place = i.channel_id().map(|channel| ChatPlace {
        platform: Platform::Discord,
        workspace: i.guild_id(),
        channel,
    });
    let ctx = Context {
        idempotency_key: i.id().map(|id| format!("discord:interaction:{id}")),
        correlation_id: i.id().map(|id| format!("discord-{id}")),
        origin: place,
        ..Context::new(who)
    };
    match kind {
        InteractionType::Command => slash(app, i, &ctx).await,
        InteractionType::Component => button(app, i, &ctx).await,
        _ => modal(app, i, &ctx).await,
    }
}

fn unknown_user(i: &Interaction) -> String {
    format!(
        "Countersign does not know who you are (discord:{}). Ask an administrator to add this identity to commands/people.toml.",
        i.user_id().unwrap_or_default()
    )
}

/// The person behind the Discord user, or `None` after auditing the refusal.
async fn actor(app: &DiscordApp, i: &Interaction, attempted: Action) -> anyhow::Result<Option<Actor>> {
    let identity = Identity::Chat(ChatUser {
        platform: Platform::Discord,
        workspace: None,
        user: i.user_id().unwrap_or_else(|| "?".into()),
    });
    if let Some(a) = identity::resolve(&app.engine.policy().directory, &identity) {
        return Ok(Some(a));
    }
    let correlation = i.id().map(|id| format!("discord-{id}"));
    app.engine
        .refuse_unauthenticated(&identity, attempted, correlation, None)
        .await?;
    Ok(None)
}

/// The caller's answer, as one ephemeral answer.
fn caller_reply(reply: &Reply) -> Answer {
    let cards: Vec<Card> = reply.card.iter().cloned().collect();
    let text = reply.text.clone();
    let text = if text.contains('\n') && cards.is_empty() {
        format!("```\n{text}\n```")
    } else {
        text
    };
    ui::ephemeral(&text, &cards)
}

/// `/approval <subcommand>`: typed options into the command language.
fn command_of(sub: &str, args: &[(String, String)]) -> Result<Command, CommandError> {
    let arg = |name: &str| args.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let r#ref = || arg("ref").ok_or_else(|| CommandError::Usage(format!("/approval {sub} needs a ref, e.g. INV-42")));
    Ok(match sub {
        "new" => Command::New {
            workflow: arg("workflow").unwrap_or_default(),
            fields: command::field_list("new", &arg("fields").unwrap_or_default())?,
        },
        "approve" => {
            let (r#ref, version) = command::ref_and_version(&r#ref()?)?;
            Command::Approve { r#ref, version }
        }
        "reject" => {
            let (r#ref, version) = command::ref_and_version(&r#ref()?)?;
            Command::Reject {
                r#ref,
                version,
                reason: arg("reason").unwrap_or_default(),
            }
        }
        "cancel" => Command::Cancel {
            r#ref: r#ref()?,
            reason: arg("reason"),
        },
        "amend" => Command::Amend {
            r#ref: r#ref()?,
            fields: command::field_list("amend", &arg("fields").unwrap_or_default())?,
        },
        "show" => Command::Show { r#ref: r#ref()? },
        "retry" => Command::Retry { r#ref: r#ref()? },
        "history" => Command::History { r#ref: r#ref()? },
        "list" => match command::parse(&format!("list {}", arg("filter").unwrap_or_default()))? {
            c @ Command::List(_) => c,
            _ => return Err(CommandError::UnknownVerb("list".into())),
        },
        "policy" => Command::Policy {
            workflow: arg("workflow"),
        },
        "whoami" => Command::Whoami,
        "help" => Command::Help,
        other => return Err(CommandError::UnknownVerb(other.to_string())),
    })
}

async fn slash(app: &DiscordApp, i: &Interaction, ctx: &Context) -> anyhow::Result<Answer> {
    let Some((sub, args)) = i.subcommand() else {
        return Ok(ui::ephemeral(
            "Use /approval with a subcommand, e.g. /approval help.",
            &[],
        ));
    };
    let cmd = match command_of(&sub, &args) {
        Ok(c) => c,
        Err(e) => return Ok(ui::ephemeral(&e.to_string(), &[])),
    };
    if let Command::New { workflow, fields } = &cmd {
        if let Some(wf) = app.engine.policy().workflow(workflow) {
            if !wf.missing_required(fields).is_empty() && ctx.actor.holds_any(&wf.access.request) {
                let form = Form::NewRequest {
                    workflow: wf,
                    given: fields,
                };
                return form_answer(app, form).await;
            }
        }
    }
    Ok(caller_reply(&dispatch(&app.engine, ctx, cmd).await?))
}

/// A form, opened through the platform seam: on Discord it is the interaction's answer.
async fn form_answer(app: &DiscordApp, form: Form<'_>) -> anyhow::Result<Answer> {
    match app.api.open_form(FormTrigger::default(), form).await? {
        Opened::Answer(answer) => Ok(Answer::encoded(answer)),
        Opened::Shown => Ok(ui::deferred_update()),
    }
}

async fn button(app: &DiscordApp, i: &Interaction, ctx: &Context) -> anyhow::Result<Answer> {
    let custom = i.custom_id().unwrap_or_default();
    let Some(pressed) = CardButton::parse(&custom) else {
        tracing::info!(
            custom_id = %custom,
            "Discord component acknowledged and ignored (not one of ours)"
        );
        return Ok(ui::deferred_update());
    };
    let target = pressed.target.as_str();
    let (r#ref, version) = command::button_vote_target(target);
    let version = Some(version);
    let r#ref = Ref::parse(&r#ref).map(|r| r.to_string()).unwrap_or(r#ref);
    match pressed.kind {
        ButtonKind::Approve => {
            let outcome = app.engine.vote(ctx, &r#ref, version, VoteKind::Approve, None).await?;
            Ok(match outcome.refusal() {
                Some(r) => ui::ephemeral(&r.message, &[]),
                None => ui::deferred_update(),
            })
        }
        ButtonKind::Reject => form_answer(app, Form::RejectReason { r#ref: &r#ref, version }).await,
        ButtonKind::Details => Ok(ui::ephemeral(
            &match app.engine.history(ctx, &r#ref).await? {
                Ok(entries) => format!("```\n{}\n```", render::history(&r#ref, &entries)),
                Err(refusal) => refusal.message,
            },
            &[],
        )),
    }
}

fn refused_or(outcome: &Outcome, ok: String) -> Answer {
    match outcome.refusal() {
        Some(r) => ui::ephemeral(&render::refusal(r), &[]),
        None => ui::ephemeral(&ok, &[]),
    }
}

async fn modal(app: &DiscordApp, i: &Interaction, ctx: &Context) -> anyhow::Result<Answer> {
    let custom = i.custom_id().unwrap_or_default();
    let values = i.modal_values();
    if let Some(workflow) = custom.strip_prefix(NEW_MODAL) {
        let outcome = app.engine.open(ctx, workflow, &values).await?;
        let opened = outcome
            .request()
            .map(|r| format!("Request {} opened.", r.r#ref))
            .unwrap_or_default();
        return Ok(refused_or(&outcome, opened));
    }
    if let Some(target) = custom.strip_prefix(REJECT_MODAL) {
        let (r#ref, version) = command::button_vote_target(target);
        let version = Some(version);
        let reason = values.iter().find(|(k, _)| k == "reason").map(|(_, v)| v.as_str());
        let outcome = app.engine.vote(ctx, &r#ref, version, VoteKind::Reject, reason).await?;
        return Ok(refused_or(&outcome, format!("You rejected {ref}.")));
    }
    tracing::info!(custom_id = %custom, "Discord modal acknowledged and ignored (not one of ours)");
    Ok(ui::ephemeral("That form is not one of Countersign's.", &[]))
}
