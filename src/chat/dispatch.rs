//! Runs a parsed command for an actor and says who is told what. Every adapter (console,
//! Slack, Discord) calls this and only translates the messages to its platform.

use super::command::{Command, USAGE};
use super::render::{self, Card};
use crate::approval::{Ref, Status, VoteKind};
use crate::engine::{Context, Engine, Outcome, RequestView};
use crate::identity::teams_of;
use crate::policy::explain_text;

/// The answer to the person who typed a command (ephemeral where the platform allows). What
/// the command causes for anyone else (cards, confirmations) is queued in the outbox by the
/// engine and delivered from there, on every platform and in the console alike.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// The text (the whole answer, or the headline above a card).
    pub text: String,
    /// A request card, when the answer carries one.
    pub card: Option<Card>,
}

impl Reply {
    fn text(text: impl Into<String>) -> Self {
        Reply {
            text: text.into(),
            card: None,
        }
    }
}

/// Whether anybody other than its requester holds a role one of the request's groups needs.
fn anyone_may_approve(engine: &Engine, v: &RequestView) -> bool {
    let dir = &engine.policy().directory;
    v.groups.iter().any(|g| {
        crate::policy::Role::parse(&g.role)
            .map(|role| dir.holders(&role).iter().any(|p| p.id.as_str() != v.requester.id))
            .unwrap_or(false)
    })
}

/// A ref as typed, normalised to upper case when it parses (unknown ones are audited as such).
fn normalise(r: &str) -> String {
    Ref::parse(r)
        .map(|r| r.to_string())
        .unwrap_or_else(|_| r.trim().to_uppercase())
}

/// Runs `cmd` as `ctx.actor` and returns the messages to deliver.
pub async fn dispatch(engine: &Engine, ctx: &Context, cmd: Command) -> anyhow::Result<Reply> {
    let outcome = match cmd {
        Command::New { workflow, fields } => engine.open(ctx, &workflow, &fields).await?,
        Command::Approve { r#ref, version } => {
            engine
                .vote(ctx, &normalise(&r#ref), version, VoteKind::Approve, None)
                .await?
        }
        Command::Reject { r#ref, version, reason } => {
            engine
                .vote(ctx, &normalise(&r#ref), version, VoteKind::Reject, Some(&reason))
                .await?
        }
        Command::Cancel { r#ref, reason } => engine.cancel(ctx, &normalise(&r#ref), reason.as_deref()).await?,
        Command::Amend { r#ref, fields } => engine.amend(ctx, &normalise(&r#ref), &fields).await?,
        Command::Retry { r#ref } => engine.retry_effect(ctx, &normalise(&r#ref)).await?,
        Command::Show { r#ref } => {
            return Ok(match engine.show(ctx, &normalise(&r#ref)).await? {
                Ok(v) => Reply {
                    text: String::new(),
                    card: Some(render::card_for(&v, engine.clock().now(), ctx.actor.person.as_str())),
                },
                Err(refusal) => Reply::text(render::refusal(&refusal)),
            });
        }
        Command::History { r#ref } => {
            let r#ref = normalise(&r#ref);
            return Ok(Reply::text(match engine.history(ctx, &r#ref).await? {
                Ok(entries) => render::history(&r#ref, &entries),
                Err(refusal) => render::refusal(&refusal),
            }));
        }
        Command::List(filter) => return Ok(Reply::text(render::list(&engine.list(ctx, filter).await?))),
        Command::Policy { workflow } => return Ok(Reply::text(policy_text(engine, workflow.as_deref()))),
        Command::Whoami => return Ok(Reply::text(whoami(engine, ctx))),
        Command::Help => return Ok(Reply::text(help())),
    };
    Ok(reply(engine, ctx, &outcome))
}

/// The caller's answer to an outcome: what happened, with the card as the caller may see it.
pub fn reply(engine: &Engine, ctx: &Context, outcome: &Outcome) -> Reply {
    let with_card = |text: String, v: &RequestView| Reply {
        text,
        card: Some(render::card_for(v, engine.clock().now(), ctx.actor.person.as_str())),
    };
    match outcome {
        Outcome::Refused { refusal } => Reply::text(render::refusal(refusal)),
        Outcome::Opened { request: v } => {
            let mut text = format!("Request {} opened.", v.r#ref);
            if !anyone_may_approve(engine, v) {
                text.push_str(" Nobody can approve it yet: the approval roles in people.toml have no holders.");
            }
            with_card(text, v)
        }
        Outcome::Amended { request: v } => with_card(
            format!(
                "{} amended: version {} is current and earlier votes are void.",
                v.r#ref, v.version
            ),
            v,
        ),
        Outcome::Voted { request: v, kind, .. } => {
            let text = match (kind, v.status) {
                (VoteKind::Approve, Status::Approved) => {
                    format!("Your approval completed {}: it is approved.", v.r#ref)
                }
                (VoteKind::Approve, _) => format!(
                    "Your approval of {} counts. Still needed: {}.",
                    v.r#ref,
                    v.needed_summary()
                ),
                (VoteKind::Reject, _) => format!("You rejected {}.", v.r#ref),
            };
            with_card(text, v)
        }
        Outcome::Cancelled { request: v } => with_card(format!("{} cancelled.", v.r#ref), v),
        Outcome::Retried { request: v } => {
            let target = v.effect.as_ref().map_or("its target", |e| e.target.as_str());
            let text = match v.effect.as_ref().map(|e| &e.state) {
                Some(crate::engine::EffectState::Executed { .. }) => {
                    format!("The effect of {} ran on {target}.", v.r#ref)
                }
                Some(crate::engine::EffectState::Failed { error }) => {
                    format!("The effect of {} failed again on {target}: {error}", v.r#ref)
                }
                _ => format!("The effect of {} will run again on {target}, once.", v.r#ref),
            };
            with_card(text, v)
        }
        // Nobody typed anything: the requester's confirmation is in the outbox.
        Outcome::Expired { .. } => Reply::default(),
    }
}

fn policy_text(engine: &Engine, workflow: Option<&str>) -> String {
    let policy = engine.policy();
    match workflow {
        Some(id) => match policy.workflow(id) {
            Some(wf) => explain_text(wf, &policy.directory),
            None => {
                let known: Vec<&str> = policy.workflows.keys().map(String::as_str).collect();
                format!("There is no workflow {id:?}. Workflows: {}.", known.join(", "))
            }
        },
        None => policy
            .workflows
            .values()
            .map(|wf| explain_text(wf, &policy.directory))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn whoami(engine: &Engine, ctx: &Context) -> String {
    let dir = &engine.policy().directory;
    let a = &ctx.actor;
    let roles: Vec<String> = a.roles.iter().map(|r| r.to_string()).collect();
    let teams: Vec<String> = teams_of(dir, &a.person).iter().map(|t| t.to_string()).collect();
    let mut ids = Vec::new();
    if let Some(p) = dir.person(&a.person) {
        for (platform, handles) in &p.chat {
            ids.extend(handles.iter().map(|h| format!("{platform}:{h}")));
        }
    }
    let none = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
    format!(
        "You are {} ({}), acting as {}.\nRoles: {}\nTeams: {}\nIdentities: {}",
        a.name,
        a.person,
        a.identity,
        none(&roles),
        none(&teams),
        none(&ids)
    )
}

fn help() -> String {
    let mut s = String::from("Countersign commands (in Slack and Discord prefix them with /approval):");
    for (_, line) in USAGE {
        s.push_str("\n  ");
        s.push_str(line);
    }
    s
}
