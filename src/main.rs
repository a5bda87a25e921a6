//! The `countersign` binary: CLI wiring only.

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use countersign::audit::{ExportFilter, ExportFormat};
use countersign::cli;
use countersign::config::{DiscordArgs, ServeArgs, Settings, SlackArgs};
use secrecy::ExposeSecret as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Countersign: approvals in chat, decided by exact quorum, recorded in a verifiable audit log.
#[derive(Parser, Debug)]
#[command(name = "countersign", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Apply database migrations.
    Migrate,
    /// Validate commands/; exit 1 with file:line:col messages.
    Check {
        /// Also connect to each effect's target and prepare its statement there (nothing runs).
        #[arg(long)]
        targets: bool,
    },
    /// State the rules in plain language.
    Explain {
        /// One workflow (default: all).
        workflow: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
        format: ExplainFormat,
    },
    /// Tell the invoice story in the console adapter, in its own database (countersign_demo).
    Demo,
    /// A REPL speaking the command language as one person (one command a line on stdin).
    Console {
        /// The person (an id from people.toml) to act as.
        #[arg(long = "as", value_name = "PERSON")]
        person: String,
    },
    /// Serve Slack, Discord, the HTTP API and the health routes; Socket Mode when SLACK_APP_TOKEN is set.
    Serve(Box<ServeArgs>),
    /// Owners' health digests.
    Digest {
        #[command(subcommand)]
        command: DigestCommand,
    },
    /// Discord administration.
    Discord {
        #[command(subcommand)]
        command: DiscordCommand,
    },
    /// Verify, export and read the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// API tokens for operators.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Mint an HS256 API token (signed with COUNTERSIGN_API_JWT_SECRET) and print it.
    Issue {
        /// The person or service (an id from people.toml) the token acts as.
        #[arg(long)]
        sub: String,
        /// How long it is valid: 30m, 1h, 7d ... (at most a year).
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// The shared secret the server checks HS256 tokens with.
        #[arg(
            long = "api-jwt-secret",
            env = "COUNTERSIGN_API_JWT_SECRET",
            hide_env_values = true,
            value_parser = |s: &str| Ok::<_, std::convert::Infallible>(secrecy::SecretString::from(s))
        )]
        secret: Option<secrecy::SecretString>,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check the whole hash chain, reconcile requests, votes and decisions with the log, and
    /// prove the chain still holds kept checkpoints and receipts; exit 1 naming what fails.
    Verify(cli::VerifyArgs),
    /// Sign the chain's head now and print the checkpoint (one JSON line) to keep outside.
    Checkpoint {
        #[command(flatten)]
        keys: countersign::config::ReceiptArgs,
    },
    /// Write the formal log (sealed entries, in chain order).
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Only entries at or after this time (RFC 3339, or a date YYYY-MM-DD).
        #[arg(long, value_parser = parse_time)]
        since: Option<DateTime<Utc>>,
        /// Only entries before this time (RFC 3339, or a date YYYY-MM-DD).
        #[arg(long, value_parser = parse_time)]
        until: Option<DateTime<Utc>>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print one request's audit trail.
    Show {
        /// The request ref, e.g. INV-42.
        r#ref: String,
    },
}

#[derive(Subcommand, Debug)]
enum DigestCommand {
    /// Print the digest a team would get now (since its last one).
    Preview {
        /// The owner team, from people.toml.
        owner: String,
    },
    /// Send a team's digest now, to its configured destinations.
    Send {
        /// The owner team, from people.toml.
        owner: String,
        #[command(flatten)]
        slack: SlackArgs,
        #[command(flatten)]
        discord: DiscordArgs,
    },
}

#[derive(Subcommand, Debug)]
enum DiscordCommand {
    /// Register the /approval command (globally, or in one guild: instant, for testing).
    Register {
        /// A guild id; without it the command is registered globally.
        #[arg(long)]
        guild: Option<String>,
        #[command(flatten)]
        discord: DiscordArgs,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ExplainFormat {
    Text,
    Markdown,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        .map_err(|_| format!("{s:?} is not a time: use RFC 3339 (2026-11-25T09:00:00Z) or a date (2026-11-25)"))
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let settings = cli.settings;
    let mut out = std::io::stdout();
    match cli.command {
        Command::Migrate => {
            let pool = countersign::store::connect(settings.require_database()?.expose_secret(), 2).await?;
            countersign::store::migrate(&pool).await?;
            println!("Migrations applied.");
            Ok(true)
        }
        Command::Check { targets: false } => cli::check(&settings.commands, &mut out, &mut std::io::stderr()),
        Command::Check { targets: true } => Ok(cli::check(&settings.commands, &mut out, &mut std::io::stderr())?
            && cli::check_targets(&settings, &mut out, &mut std::io::stderr()).await?),
        Command::Explain { workflow, format } => {
            let policy = cli::load_policy(&settings.commands)?;
            write!(
                out,
                "{}",
                cli::explain(&policy, workflow.as_deref(), matches!(format, ExplainFormat::Markdown))?
            )?;
            Ok(true)
        }
        Command::Demo => cli::demo(&settings, &mut out).await,
        Command::Console { person } => cli::console(&settings, &person).await.map(|()| true),
        Command::Serve(args) => cli::serve(&settings, &args).await.map(|()| true),
        Command::Discord {
            command: DiscordCommand::Register { guild, discord },
        } => cli::discord_register(&discord, guild.as_deref()).await.map(|()| true),
        Command::Digest {
            command: DigestCommand::Preview { owner },
        } => cli::digest_preview(&settings, &owner).await.map(|()| true),
        Command::Digest {
            command: DigestCommand::Send { owner, slack, discord },
        } => cli::digest_send(&settings, &slack, &discord, &owner)
            .await
            .map(|()| true),
        Command::Audit { command } => match command {
            AuditCommand::Verify(args) => cli::audit_verify(&settings, &args, &mut out).await,
            AuditCommand::Checkpoint { keys } => cli::audit_checkpoint(&settings, &keys, &mut out).await,
            AuditCommand::Export {
                format,
                since,
                until,
                out: path,
            } => {
                let n = cli::audit_export(&settings, format, ExportFilter { since, until }, path.as_deref()).await?;
                eprintln!("Exported {n} sealed entries.");
                Ok(true)
            }
            AuditCommand::Show { r#ref } => cli::audit_show(&settings, &r#ref, &mut out).await,
        },
        Command::Token {
            command: TokenCommand::Issue { sub, ttl, secret },
        } => {
            println!(
                "{}",
                cli::api::token_issue(&settings.commands, secret.as_ref(), &sub, &ttl)?
            );
            Ok(true)
        }
    }
}

/// Whether an error is a write to a pipe whose reader has gone, whichever writer reported it.
fn closed_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(BrokenPipe))
            || cause
                .downcast_ref::<csv::Error>()
                .is_some_and(|c| matches!(c.kind(), csv::ErrorKind::Io(io) if io.kind() == BrokenPipe))
    })
}

fn main() -> ExitCode {
    // Logging is configured by flags too, so it starts once they are parsed; clap reports its
    // own errors without it.
    let cli = Cli::parse();
    countersign::config::init_logging(&cli.settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        // `countersign audit export | head`: the reader has all it wanted; a closed pipe is a
        // normal end, not an error.
        Err(e) if closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
