//! The local terminal adapter: a REPL speaking the command language as one person, printing
//! what each audience would be sent. The demo drives the same code.

use super::command;
use super::dispatch::{dispatch, Audience, Message};
use crate::audit::{self, Action};
use crate::engine::{Context, Engine};
use crate::identity::{self, Actor, Identity};
use crate::policy::PersonId;
use anyhow::Context as _;
use std::io::{BufRead, IsTerminal, Write};

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

/// Prints messages the way a terminal user can read them.
pub fn print(out: &mut dyn Write, messages: &[Message]) -> std::io::Result<()> {
    for m in messages {
        match &m.to {
            Audience::Caller => {
                if !m.text.is_empty() {
                    writeln!(out, "{}", m.text)?;
                }
                if let Some(card) = &m.card {
                    writeln!(out, "{}", card.to_text())?;
                }
            }
            Audience::Requester(p) => writeln!(out, "-> to {} (direct message): {}", p.name, m.text)?,
            Audience::Approvers(people) if people.is_empty() => writeln!(
                out,
                "-> nobody can approve this request: check the approval roles in people.toml"
            )?,
            Audience::Approvers(people) => {
                let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
                writeln!(out, "-> card sent to {}", names.join(", "))?
            }
        }
    }
    Ok(())
}

/// Runs one line as `actor` and prints the replies. Seals the audit chain afterwards so that
/// trails shown next carry their chain positions.
pub async fn run_line(engine: &Engine, actor: &Actor, line: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(());
    }
    match command::parse(line) {
        Err(e) => writeln!(out, "{e}")?,
        Ok(cmd) => {
            let messages = dispatch(engine, &Context::new(actor.clone()), cmd).await?;
            print(out, &messages)?;
        }
    }
    audit::seal(engine.pool()).await?;
    Ok(())
}

/// The REPL: one command a line from `input` until its end.
pub async fn repl(engine: &Engine, actor: &Actor, input: impl BufRead, out: &mut dyn Write) -> anyhow::Result<()> {
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
        run_line(engine, actor, &line, out).await?;
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
