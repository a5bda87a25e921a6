//! Settings from flags and the environment. Secrets are held here and never printed.

mod receipt;
mod serve;

pub use serve::{ApiArgs, DiscordArgs, ReceiptArgs, ServeArgs, SlackArgs};

use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::path::PathBuf;

/// A database URL whose password never reaches a log or an error message: `Debug` and
/// `Display` show it with the password masked, and the URL itself only through `expose_secret`.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(SecretString::from(url.into()))
    }

    /// For clap: any text is taken, and checked when connecting.
    fn parse(url: &str) -> Result<Self, std::convert::Infallible> {
        Ok(DatabaseUrl::new(url))
    }
}

impl ExposeSecret<str> for DatabaseUrl {
    /// The URL itself, for connecting only.
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(self.0.expose_secret()))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(self.0.expose_secret()))
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// What every subcommand may need.
#[derive(clap::Args, Clone, Debug)]
pub struct Settings {
    /// Postgres URL (13 or later).
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_parser = DatabaseUrl::parse
    )]
    pub database_url: Option<DatabaseUrl>,
    /// The directory with people.toml and one <workflow>.toml per workflow.
    #[arg(
        long = "commands",
        env = "COUNTERSIGN_COMMANDS",
        global = true,
        default_value = "./commands"
    )]
    pub commands: PathBuf,
    /// `json` for one JSON object a line on standard error; readable text otherwise.
    #[arg(long, env = "COUNTERSIGN_LOG_FORMAT", global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// What to log, as tracing's filter directives [default: warn,countersign=info].
    #[arg(long = "log", env = "RUST_LOG", global = true, value_name = "FILTER")]
    pub log: Option<String>,
}

impl Settings {
    /// The database URL, or an error that says how to provide one.
    pub fn require_database(&self) -> anyhow::Result<&DatabaseUrl> {
        self.database_url.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "DATABASE_URL is not set: set it (or pass --database-url) to a Postgres 13+ server, \
                 or run through scripts/with-postgres, which starts a private one"
            )
        })
    }
}

/// Logs through tracing on standard error: readable on a terminal, one JSON object a line when
/// `COUNTERSIGN_LOG_FORMAT=json`. `RUST_LOG` sets the level (default: info for `serve`'s own
/// events, warnings from libraries); a filter that does not parse falls back to the default, as
/// it always has. Secrets never reach a log: settings print them as hidden.
pub fn init_logging(settings: &Settings) {
    let filter = settings
        .log
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| "warn,countersign=info".into());
    let json = settings
        .log_format
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(true).with_span_list(false).init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_a_database_url_is_never_shown() {
        let url = DatabaseUrl::new("postgres://bot:s3cret@db:5432/countersign");
        assert_eq!(url.to_string(), "postgres://bot:***@db:5432/countersign");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
    }
}
