//! The work behind each CLI subcommand, kept out of `main.rs` so that tests can call it.

pub mod api;
mod audit_log;
mod problems;

pub use self::audit_log::{audit_checkpoint, audit_export, audit_show, audit_verify, verify_summary, VerifyArgs};

use crate::chat::{console, demo};
use crate::clock::{Clock, SystemClock};
use crate::config::{DiscordArgs, ServeArgs, Settings, SlackArgs};
use crate::engine::Engine;
use crate::policy::{explain_markdown, explain_text, PolicySet};
use crate::store;
use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};
use std::io::Write;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

/// The database the demo (re)creates for itself on the configured server.
pub use crate::store::DEMO_DATABASE;

/// Loads commands/, or fails with every problem as `file:line:col: message`.
pub fn load_policy(dir: &Path) -> anyhow::Result<PolicySet> {
    PolicySet::load(dir).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!(
            "{} is not valid (run countersign check):\n{}",
            dir.display(),
            lines.join("\n")
        )
    })
}

/// `countersign check`: prints every problem; returns whether commands/ is valid.
pub fn check(dir: &Path, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<bool> {
    // No directory at all is a mistake in how check was called, not a verdict on a policy.
    anyhow::ensure!(
        dir.is_dir(),
        "there is no commands directory at {}: run countersign where commands/ is, or name it with \
         --commands DIR (or COUNTERSIGN_COMMANDS)",
        dir.display()
    );
    match PolicySet::load(dir) {
        Ok(p) => {
            let services = match p.directory.services.len() {
                0 => String::new(),
                1 => " and 1 service".to_owned(),
                n => format!(" and {n} services"),
            };
            let (w, people) = (p.workflows.len(), p.directory.people.len());
            let joint = if services.is_empty() { " and" } else { "," };
            writeln!(
                out,
                "{}: {w} workflows{joint} {people} people{services}, all valid.",
                dir.display()
            )?;
            Ok(true)
        }
        Err(errors) => {
            for e in &errors {
                writeln!(err, "{}", problems::render(e))?;
            }
            writeln!(err, "{} problem(s) found; nothing was loaded.", errors.len())?;
            Ok(false)
        }
    }
}

/// `countersign check --targets`: prepares every effect's statement on its target, without
/// running it, so a wrong table or column is found before anyone clicks. Returns whether every
/// statement prepared.
pub async fn check_targets(settings: &Settings, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<bool> {
    use crate::store::targets::{self, Targets};
    let policy = load_policy(&settings.commands)?;
    let others = Targets::from_env();
    let mut own: Option<PgPool> = None;
    let mut ok = true;
    for wf in policy.workflows.values() {
        let Some(effect) = &wf.effect else {
            continue;
        };
        let pool = match (&own, effect.target.is_own()) {
            (Some(pool), true) => Ok(pool.clone()),
            (None, true) => {
                let pool = connect_migrated(settings).await?;
                own = Some(pool.clone());
                Ok(pool)
            }
            (_, false) => others.pool(&effect.target),
        };
        let result = match pool {
            Ok(pool) => targets::prepare(&pool, effect.target.as_str(), &effect.positional).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => writeln!(
                out,
                "{}: the effect prepares on {}.",
                wf.source.display(),
                effect.target
            )?,
            Err(e) => {
                ok = false;
                writeln!(
                    err,
                    "{}: [effect] does not prepare on {}: {e}",
                    wf.source.display(),
                    effect.target
                )?;
            }
        }
    }
    Ok(ok)
}

/// `countersign explain`.
pub fn explain(policy: &PolicySet, workflow: Option<&str>, markdown: bool) -> anyhow::Result<String> {
    let render = |wf| {
        if markdown {
            explain_markdown(wf, &policy.directory)
        } else {
            explain_text(wf, &policy.directory)
        }
    };
    match workflow {
        Some(id) => policy.workflow(id).map(render).ok_or_else(|| {
            anyhow::anyhow!(
                "there is no workflow {id:?}; workflows: {}",
                policy.workflows.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        }),
        None => Ok(policy.workflows.values().map(render).collect::<Vec<_>>().join("\n")),
    }
}

/// Connects to the configured database and checks that it is migrated.
pub async fn connect_migrated(settings: &Settings) -> anyhow::Result<PgPool> {
    let pool = store::connect(settings.require_database()?.expose_secret(), 8).await?;
    anyhow::ensure!(
        store::migrations_current(&pool).await?,
        "the database is not migrated to this version of Countersign: run `countersign migrate`"
    );
    Ok(pool)
}

/// An engine over the configured database and commands/, with the policy load recorded.
pub async fn engine(settings: &Settings, pool: PgPool) -> anyhow::Result<Engine> {
    let policy = Arc::new(load_policy(&settings.commands)?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = Engine::new(pool, policy, clock).with_targets(Arc::new(crate::store::targets::Targets::from_env()));
    engine.record_policy_load().await?;
    Ok(engine)
}

/// `countersign demo`: recreates its own database on the configured server and tells the story.
pub async fn demo(settings: &Settings, out: &mut dyn Write) -> anyhow::Result<bool> {
    let url = settings.require_database()?;
    let admin_opts =
        PgConnectOptions::from_str(url.expose_secret()).context("DATABASE_URL is not a valid postgres:// URL")?;
    let mut admin = admin_opts
        .connect()
        .await
        .context("cannot connect to Postgres (DATABASE_URL)")?;
    crate::store::recreate_demo_database(&mut admin).await?;
    admin.close().await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with(admin_opts.database(DEMO_DATABASE))
        .await?;
    store::migrate(&pool).await?;
    let engine = engine(settings, pool.clone()).await?;
    writeln!(
        out,
        "Countersign demo: the invoice workflow (commands/invoice.toml), in database {DEMO_DATABASE}."
    )?;
    let ok = demo::tell(&engine, out).await?;
    pool.close().await;
    writeln!(out, "\n{}", try_it_yourself(url.expose_secret()))?;
    Ok(ok)
}

/// How to go on from the demo: the exact command that opens a console on the demo's data. A
/// password in the configured URL is never printed: it is shown as `PASSWORD`.
pub fn try_it_yourself(configured_url: &str) -> String {
    let shown = match url::Url::parse(configured_url) {
        Ok(mut u) => {
            u.set_path(&format!("/{DEMO_DATABASE}"));
            if u.password().is_some() {
                let _ = u.set_password(Some("PASSWORD"));
            }
            u.to_string()
        }
        Err(_) => format!("postgres://HOST/{DEMO_DATABASE}"),
    };
    format!(
        "Try it yourself on the demo's data, as anyone in commands/people.toml (alice, bob, carol, dave, ...):\n  \
         scripts/countersign --database-url {shown} console --as carol\n\
         Type `help` at the prompt; `list` shows what Carol may see. With countersign on your PATH \
         (`cargo install --path .`), the same command works without `scripts/`."
    )
}

/// `countersign console --as PERSON`.
pub async fn console(settings: &Settings, person: &str) -> anyhow::Result<()> {
    let pool = connect_migrated(settings).await?;
    let engine = engine(settings, pool).await?;
    let actor = console::actor(&engine, person).await?;
    let stdin = std::io::stdin();
    console::repl(&engine, &actor, stdin.lock(), &mut std::io::stdout()).await
}

/// `countersign serve`: runs until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn serve(settings: &Settings, args: &ServeArgs) -> anyhow::Result<()> {
    let slack = args.slack.settings()?;
    let discord = args.discord.settings(args.discord_gateway)?;
    let api = args.api.settings()?;
    let listen = args.listen;
    let pool = connect_migrated(settings).await?;
    let engine = engine(settings, pool).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (COUNTERSIGN_LISTEN): is another process using it?"))?;
    let serve = crate::server::ServeSettings {
        listen,
        slack,
        discord,
        outbox: crate::outbox::OutboxConfig::default(),
        seal_every: std::time::Duration::from_millis(250),
        tick_every: std::time::Duration::from_secs(30),
        ack_budget: std::time::Duration::from_millis(2500),
        api,
    };
    tracing::info!(%listen, slack = serve.slack.is_some(), "countersign serving");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let running = crate::server::start(engine, clock, serve, listener).await?;
    shutdown_signal().await;
    tracing::info!(
        drain_ms = args.shutdown_drain_ms,
        "shutting down: /readyz is now false; finishing requests in flight"
    );
    running.shutdown_after(args.drain()).await;
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// `countersign discord register [--guild ID]`: registers /approval through the API.
pub async fn discord_register(discord: &DiscordArgs, guild: Option<&str>) -> anyhow::Result<()> {
    let token = discord.require_bot_token()?;
    let app = discord.require_application_id()?;
    let api = crate::chat::discord::DiscordApi::new(&discord.api_base(), token.expose_secret(), &app)?;
    let commands = serde_json::json!([crate::chat::discord::components::approval_command()]);
    let registered = api
        .register_commands(guild, &commands)
        .await
        .map_err(|e| anyhow::anyhow!("registering /approval failed: {e}"))?;
    let n = registered.as_array().map(Vec::len).unwrap_or(0);
    match guild {
        Some(g) => println!("Registered {n} command(s) in guild {g}; they are usable at once."),
        None => println!("Registered {n} command(s) globally; Discord may take up to an hour to show them everywhere."),
    }
    Ok(())
}

/// `countersign digest preview OWNER`.
pub async fn digest_preview(settings: &Settings, owner: &str) -> anyhow::Result<()> {
    let pool = connect_migrated(settings).await?;
    let engine = engine(settings, pool).await?;
    let digest = crate::digest::scheduler::Scheduler::new(engine, Vec::new())
        .preview(owner)
        .await?;
    println!("{}", crate::digest::render::text(&digest));
    Ok(())
}

/// `countersign digest send OWNER`: sends the digest now and delivers it through the platforms
/// configured in this shell before returning.
pub async fn digest_send(
    settings: &Settings,
    slack: &SlackArgs,
    discord: &DiscordArgs,
    owner: &str,
) -> anyhow::Result<()> {
    let pool = connect_migrated(settings).await?;
    let engine = engine(settings, pool.clone()).await?;
    let slack = slack
        .settings()?
        .map(|s| crate::chat::slack::SlackApi::new(&s.api_url, s.bot_token.expose_secret()))
        .transpose()?;
    let discord = discord
        .settings(false)?
        .map(|d| crate::chat::discord::DiscordApi::new(&d.api_base, d.bot_token.expose_secret(), &d.application_id))
        .transpose()?;
    let mut platforms = crate::chat::platform::Platforms::none();
    if let Some(api) = slack {
        platforms = platforms.with(crate::chat::address::Platform::Slack, Arc::new(api));
    }
    if let Some(api) = discord {
        platforms = platforms.with(crate::chat::address::Platform::Discord, Arc::new(api));
    }
    anyhow::ensure!(
        !platforms.configured().is_empty(),
        "no chat platform is configured in this shell: set the SLACK_* or DISCORD_* variables (see docs/slack.md and \
         docs/discord.md), or read it here with `countersign digest preview {owner}`"
    );
    let digest = crate::digest::scheduler::Scheduler::new(engine.clone(), platforms.configured())
        .send_now(owner)
        .await?;
    println!("{}", crate::digest::render::text(&digest));
    let deliverer = Arc::new(crate::chat::delivery::ChatDeliverer::new(engine.clone(), platforms));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker = crate::outbox::Worker::new(pool.clone(), deliverer, crate::outbox::OutboxConfig::default(), clock);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        worker.round().await?;
        let waiting = crate::store::outbox::digests_waiting(&pool).await?;
        if waiting == 0 {
            eprintln!("Delivered.");
            return Ok(());
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "{waiting} digest message(s) are still waiting (the platform is slow or refusing); a running \
             `countersign serve` keeps retrying them"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
