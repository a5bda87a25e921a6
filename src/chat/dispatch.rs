//! Runs a parsed command for an actor and says who is told what. Every adapter (console,
//! Slack, Discord) calls this and only translates the messages to its platform.

use super::command::{Command, USAGE};
use super::render::{self, Card};
use crate::approval::{Ref, Status, VoteKind};
use crate::engine::{Context, Engine, Outcome, PersonRef, RequestView};
use crate::identity::teams_of;
use crate::policy::explain_text;
use std::collections::BTreeMap;

/// Who a message is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The person who typed the command (ephemeral where the platform allows).
    Caller,
    /// The requester, privately (confirmations).
    Requester(PersonRef),
    /// Everyone who may approve the request, privately (new and updated cards).
    Approvers(Vec<PersonRef>),
}

/// One message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Who it is for.
    pub to: Audience,
    /// The text (the whole message, or the headline above a card).
    pub text: String,
    /// A request card, when the message carries one.
    pub card: Option<Card>,
}

impl Message {
    fn caller(text: impl Into<String>) -> Self {
        Message {
            to: Audience::Caller,
            text: text.into(),
            card: None,
        }
    }
}

/// The people who may approve a request, other than its requester.
fn approvers(engine: &Engine, v: &RequestView) -> Vec<PersonRef> {
    let dir = &engine.policy().directory;
    let mut out: BTreeMap<String, PersonRef> = BTreeMap::new();
    for g in &v.groups {
        let Ok(role) = crate::policy::Role::parse(&g.role) else {
            continue;
        };
        for p in dir.holders(&role) {
            if p.id.as_str() != v.requester.id {
                out.insert(
                    p.id.to_string(),
                    PersonRef {
                        id: p.id.to_string(),
                        name: p.name.clone(),
                    },
                );
            }
        }
    }
    out.into_values().collect()
}

/// A ref as typed, normalised to upper case when it parses (unknown ones are audited as such).
fn normalise(r: &str) -> String {
    Ref::parse(r)
        .map(|r| r.to_string())
        .unwrap_or_else(|_| r.trim().to_uppercase())
}

/// Runs `cmd` as `ctx.actor` and returns the messages to deliver.
pub async fn dispatch(engine: &Engine, ctx: &Context, cmd: Command) -> anyhow::Result<Vec<Message>> {
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
        Command::Show { r#ref } => {
            return Ok(vec![match engine.show(ctx, &normalise(&r#ref)).await? {
                Ok(v) => Message {
                    to: Audience::Caller,
                    text: String::new(),
                    card: Some(render::card_for(&v, engine.clock().now(), ctx.actor.person.as_str())),
                },
                Err(refusal) => Message::caller(render::refusal(&refusal)),
            }]);
        }
        Command::History { r#ref } => {
            let r#ref = normalise(&r#ref);
            return Ok(vec![Message::caller(match engine.history(ctx, &r#ref).await? {
                Ok(entries) => render::history(&r#ref, &entries),
                Err(refusal) => render::refusal(&refusal),
            })]);
        }
        Command::List(filter) => return Ok(vec![Message::caller(render::list(&engine.list(ctx, filter).await?))]),
        Command::Policy { workflow } => return Ok(vec![Message::caller(policy_text(engine, workflow.as_deref()))]),
        Command::Whoami => return Ok(vec![Message::caller(whoami(engine, ctx))]),
        Command::Help => return Ok(vec![Message::caller(help())]),
    };
    Ok(messages(engine, ctx, &outcome))
}

/// The messages an outcome produces: the caller's answer, new cards for approvers, and the
/// requester's confirmation when the request reached a final state.
pub fn messages(engine: &Engine, ctx: &Context, outcome: &Outcome) -> Vec<Message> {
    let now = engine.clock().now();
    let with_card = |to: Audience, text: String, v: &RequestView| {
        let viewer = match &to {
            Audience::Caller => ctx.actor.person.as_str(),
            Audience::Requester(p) => p.id.as_str(),
            // Approvers are never the requester: the card with its buttons.
            Audience::Approvers(_) => "",
        };
        Message {
            card: Some(render::card_for(v, now, viewer)),
            to,
            text,
        }
    };
    match outcome {
        Outcome::Refused { refusal } => vec![Message::caller(render::refusal(refusal))],
        Outcome::Opened { request: v } => vec![
            with_card(Audience::Caller, format!("Request {} opened.", v.r#ref), v),
            with_card(
                Audience::Approvers(approvers(engine, v)),
                format!("{} asks for your approval of {}.", v.requester.name, v.r#ref),
                v,
            ),
        ],
        Outcome::Amended { request: v } => vec![
            with_card(
                Audience::Caller,
                format!(
                    "{} amended: version {} is current and earlier votes are void.",
                    v.r#ref, v.version
                ),
                v,
            ),
            with_card(
                Audience::Approvers(approvers(engine, v)),
                format!("{} amended {}: please look again.", v.requester.name, v.r#ref),
                v,
            ),
        ],
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
            let mut out = vec![with_card(Audience::Caller, text, v)];
            if let Some(c) = render::confirmation(v) {
                out.push(with_card(Audience::Requester(v.requester.clone()), c, v));
            }
            out
        }
        Outcome::Cancelled { request: v } => vec![
            with_card(Audience::Caller, format!("{} cancelled.", v.r#ref), v),
            with_card(
                Audience::Approvers(approvers(engine, v)),
                format!("{} withdrew {}.", v.requester.name, v.r#ref),
                v,
            ),
        ],
        Outcome::Expired { request: v } => render::confirmation(v)
            .map(|c| vec![with_card(Audience::Requester(v.requester.clone()), c, v)])
            .unwrap_or_default(),
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
