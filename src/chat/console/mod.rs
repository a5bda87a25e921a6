//! The local terminal adapter: a REPL speaking the command language as one person. It prints
//! the caller's reply, then, as a platform like the others, what the outbox would deliver to
//! Slack and Discord. The demo drives the same code.

mod outbound;

pub use outbound::{ConsolePlatform, Transcript};

use super::address::Platform;
use super::command;
use super::delivery::ChatDeliverer;
use super::dispatch::dispatch;
use super::platform::Platforms;
use crate::audit::{self, Action};
use crate::engine::{Context, Engine};
use crate::identity::{self, Actor, Identity};
use crate::outbox::{self, Doorbell, Intent, Job};
use crate::policy::PersonId;
use anyhow::Context as _;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

/// Resolves `--as PERSON` to an actor; an unknown person is audited and refused.
pub async fn actor(engine: &Engine, person: &str) -> anyhow::Result<Actor> {
    let dir = &engine.policy().directory;
    let found = PersonId::parse(person)
        .ok()
        .and_then(|id| identity::resolve(dir, &Identity::Console(id)));
    if let Some(actor) = found {
        return Ok(actor);
    }
    let identity = PersonId::parse(person)
        .map(Identity::Console)
        .unwrap_or(Identity::System);
    if identity != Identity::System {
        engine
            .refuse_unauthenticated(&identity, Action::RequestViewed, None, None)
            .await?;
    }
    let known: Vec<&str> = dir.people.keys().map(PersonId::as_str).collect();
    anyhow::bail!(
        "{person:?} is not a person in people.toml; known people: {}",
        known.join(", ")
    )
}

/// A console session: the engine as one terminal sees it, and the platforms it stands in for.
/// What a command queues for chat is shown as each platform would receive it (and left queued
/// for a running server to deliver).
#[derive(Debug)]
pub struct Console {
    engine: Engine,
    bell: Arc<Doorbell>,
    deliverer: ChatDeliverer,
    transcript: Arc<Transcript>,
}

impl Console {
    /// A console over `engine`.
    pub fn new(engine: &Engine) -> Self {
        let bell = Arc::new(Doorbell::new());
        let engine = engine.clone().with_outbox_waker(bell.clone());
        let transcript = Arc::new(Transcript::default());
        let directory = engine.policy().directory.clone();
        let platforms = Platform::ALL.into_iter().fold(Platforms::none(), |all, p| {
            let shown = ConsolePlatform::new(p, directory.clone(), transcript.clone());
            all.with(p, Arc::new(shown))
        });
        let deliverer = ChatDeliverer::showing(engine.clone(), platforms);
        Console {
            engine,
            bell,
            deliverer,
            transcript,
        }
    }

    /// The engine this console acts through.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs one line as `actor` and prints the reply, then what it queued for chat. Seals the
    /// audit chain afterwards so that trails shown next carry their chain positions.
    pub async fn run_line(&self, actor: &Actor, line: &str, out: &mut dyn Write) -> anyhow::Result<()> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        match command::parse(line) {
            Err(e) => self.transcript.line(&e.to_string()),
            Ok(cmd) => {
                let reply = dispatch(&self.engine, &Context::new(actor.clone()), cmd).await?;
                if !reply.text.is_empty() {
                    self.transcript.line(&reply.text);
                }
                if let Some(card) = &reply.card {
                    self.transcript.card("", card);
                }
                self.show_queued().await?;
            }
        }
        out.write_all(self.transcript.take().as_bytes())?;
        audit::seal(self.engine.pool()).await?;
        Ok(())
    }

    /// Shows the messages the last command queued, as their platforms would receive them.
    async fn show_queued(&self) -> anyhow::Result<()> {
        let (queued, _) = self.bell.take();
        let ids: Vec<i64> = queued.iter().map(|q| q.id).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let jobs = outbox::queued(self.engine.pool(), &ids).await?;
        let (effects, jobs): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|j| matches!(j.intent, Intent::Effect { .. }));
        let (hooks, chat): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|j| matches!(j.intent, Intent::Webhook { .. } | Intent::Checkpoint { .. }));
        for (job, result) in chat.iter().zip(self.deliverer.show(&chat).await?) {
            if let Err(e) = result {
                self.transcript
                    .line(&format!("-> not delivered ({}): {e}", job.intent.kind()));
            }
        }
        // Effects run as `serve` runs them (exactly once, by the target's ledger: a server that
        // delivers the same message later finds it has run).
        for job in effects {
            let Intent::Effect { r#ref, version } = &job.intent else {
                continue;
            };
            let runner = crate::effect::runner::EffectRunner::new(self.engine.clone());
            let line = match runner.run(r#ref, *version).await {
                Ok(()) => {
                    let view = self.engine.current_view(r#ref).await?;
                    let state = view.as_ref().and_then(crate::chat::render::effect_state_line);
                    format!("-> effect of {ref}: {}", state.unwrap_or_else(|| "run".into()))
                }
                Err(e) => format!("-> effect of {ref} not run yet: {e}"),
            };
            self.transcript.line(&line);
        }
        for job in hooks {
            let line = match &job.intent {
                Intent::Webhook { url, event, .. } => format!(
                    "-> webhook {}: {event}, with the decision receipt",
                    crate::api::webhook::shown_url(url)
                ),
                Intent::Checkpoint { url, seq } => format!(
                    "-> webhook {}: audit.checkpoint, the signed head at #{seq}",
                    crate::api::webhook::shown_url(url)
                ),
                _ => continue,
            };
            self.transcript.line(&line);
        }
        Ok(())
    }
}

/// The REPL: one command a line from `input` until its end.
pub async fn repl(engine: &Engine, actor: &Actor, input: impl BufRead, out: &mut dyn Write) -> anyhow::Result<()> {
    let console = Console::new(engine);
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        writeln!(
            out,
            "Countersign console as {} ({}). Type help for commands; Ctrl-D to leave.",
            actor.name, actor.person
        )?;
        write!(out, "{}> ", actor.person)?;
        out.flush()?;
    }
    for line in input.lines() {
        let line = line.context("reading standard input")?;
        console.run_line(actor, &line, out).await?;
        if interactive {
            write!(out, "{}> ", actor.person)?;
            out.flush()?;
        }
    }
    if interactive {
        writeln!(out)?;
    }
    Ok(())
}
