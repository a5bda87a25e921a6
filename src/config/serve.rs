//! The settings of `countersign serve`, each a flag with the environment variable that sets it,
//! so that `countersign serve --help` is the complete list. Secrets are hidden from `--help`
//! even when set; the flags exist for completeness, but the environment keeps them out of `ps`.

pub use super::receipt::ReceiptArgs;
use crate::api::ApiAuth;
use crate::server::{ApiSettings, DiscordSettings, SlackSettings};
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const SLACK_API_URL: &str = "https://slack.com/api";
const DISCORD_API_BASE: &str = "https://discord.com";

/// Everything `serve` reads besides the database and commands/ (which every command reads).
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "COUNTERSIGN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Also connect to the Discord gateway (one replica at a time holds it).
    #[arg(long)]
    pub discord_gateway: bool,
    /// How long /readyz is false before the listener closes, in milliseconds.
    #[arg(
        long,
        env = "COUNTERSIGN_SHUTDOWN_DRAIN_MS",
        value_name = "MS",
        default_value = "2000",
        value_parser = parse_drain_ms
    )]
    pub shutdown_drain_ms: u64,
    #[command(flatten)]
    pub slack: SlackArgs,
    #[command(flatten)]
    pub discord: DiscordArgs,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// An empty value keeps the default, as it did before the setting was a flag.
fn parse_drain_ms(s: &str) -> Result<u64, String> {
    if s.trim().is_empty() {
        return Ok(2000);
    }
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number of milliseconds"))
}

impl ServeArgs {
    /// How long `/readyz` is false before the listener closes.
    pub fn drain(&self) -> Duration {
        Duration::from_millis(self.shutdown_drain_ms)
    }
}

/// Slack: none of these, or the signing secret and the bot token at least.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Slack")]
pub struct SlackArgs {
    /// The app's signing secret; `new,old` accepts both during a rotation.
    #[arg(
        id = "slack_signing_secret",
        value_name = "SECRET",
        long = "slack-signing-secret",
        env = "SLACK_SIGNING_SECRET",
        hide_env_values = true,
        value_parser = secret
    )]
    pub signing_secret: Option<SecretString>,
    /// The bot token (`xoxb-...`).
    #[arg(
        id = "slack_bot_token",
        value_name = "TOKEN",
        long = "slack-bot-token",
        env = "SLACK_BOT_TOKEN",
        hide_env_values = true,
        value_parser = secret
    )]
    pub bot_token: Option<SecretString>,
    /// The app-level token (`xapp-...`): Socket Mode instead of public URLs.
    #[arg(
        id = "slack_app_token",
        value_name = "TOKEN",
        long = "slack-app-token",
        env = "SLACK_APP_TOKEN",
        hide_env_values = true,
        value_parser = secret
    )]
    pub app_token: Option<SecretString>,
    /// The Web API base URL.
    #[arg(id = "slack_api_url", value_name = "URL", long = "slack-api-url", env = "SLACK_API_URL", default_value = SLACK_API_URL)]
    pub api_url: String,
}

/// A value that is only blanks counts as unset, as an empty line in an env file means to.
pub(super) fn given(v: &Option<String>) -> Option<String> {
    v.as_ref().filter(|v| !v.trim().is_empty()).cloned()
}

/// The same for a secret, which stays wrapped.
fn given_secret(v: &Option<SecretString>) -> Option<SecretString> {
    v.as_ref().filter(|v| !v.expose_secret().trim().is_empty()).cloned()
}

/// For clap: a secret is wrapped as soon as it is read, so no settings value can print it.
fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s))
}

fn or_default(v: &str, default: &str) -> String {
    if v.trim().is_empty() {
        default.to_string()
    } else {
        v.to_string()
    }
}

impl SlackArgs {
    /// None, or a complete set: a half-configured Slack is an error that names what is missing.
    pub fn settings(&self) -> anyhow::Result<Option<SlackSettings>> {
        match (given_secret(&self.signing_secret), given_secret(&self.bot_token)) {
            (None, None) => Ok(None),
            (Some(secret), Some(bot_token)) => Ok(Some(SlackSettings {
                signing_secrets: secret
                    .expose_secret()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(SecretString::from)
                    .collect(),
                bot_token,
                app_token: given_secret(&self.app_token),
                api_url: or_default(&self.api_url, SLACK_API_URL),
            })),
            (Some(_), None) => {
                anyhow::bail!("SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not: set both to serve Slack")
            }
            (None, Some(_)) => {
                anyhow::bail!("SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not: set both to serve Slack")
            }
        }
    }
}

/// Discord: none of these, or the public key, the application id and the bot token.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Discord")]
pub struct DiscordArgs {
    /// The application's Ed25519 public key, hex; several, comma-separated, when moving to a new
    /// application.
    #[arg(
        id = "discord_public_key",
        value_name = "HEX",
        long = "discord-public-key",
        env = "DISCORD_PUBLIC_KEY"
    )]
    pub public_key: Option<String>,
    /// The application id.
    #[arg(
        id = "discord_application_id",
        value_name = "ID",
        long = "discord-application-id",
        env = "DISCORD_APPLICATION_ID"
    )]
    pub application_id: Option<String>,
    /// The bot token.
    #[arg(
        id = "discord_bot_token",
        value_name = "TOKEN",
        long = "discord-bot-token",
        env = "DISCORD_BOT_TOKEN",
        hide_env_values = true,
        value_parser = secret
    )]
    pub bot_token: Option<SecretString>,
    /// The API base URL.
    #[arg(id = "discord_api_base", value_name = "URL", long = "discord-api-base", env = "DISCORD_API_BASE", default_value = DISCORD_API_BASE)]
    pub api_base: String,
}

impl DiscordArgs {
    /// None, or a complete set; `gateway` needs a complete set.
    pub fn settings(&self, gateway: bool) -> anyhow::Result<Option<DiscordSettings>> {
        let names = ["DISCORD_PUBLIC_KEY", "DISCORD_APPLICATION_ID", "DISCORD_BOT_TOKEN"];
        let (public_key, application_id, bot_token) = (
            given(&self.public_key),
            given(&self.application_id),
            given_secret(&self.bot_token),
        );
        let present = [public_key.is_some(), application_id.is_some(), bot_token.is_some()];
        if present.iter().all(|p| !p) {
            anyhow::ensure!(
                !gateway,
                "--discord-gateway needs DISCORD_PUBLIC_KEY, DISCORD_APPLICATION_ID and DISCORD_BOT_TOKEN"
            );
            return Ok(None);
        }
        let missing: Vec<&str> = names.iter().zip(present).filter(|(_, p)| !p).map(|(n, _)| *n).collect();
        match (public_key, application_id, bot_token) {
            (Some(public_key), Some(application_id), Some(bot_token)) => Ok(Some(DiscordSettings {
                public_key,
                application_id,
                bot_token,
                api_base: self.api_base(),
                gateway,
            })),
            _ => anyhow::bail!("Discord is half configured: set {} as well", missing.join(" and ")),
        }
    }

    /// The API base URL, with the default for an empty value.
    pub fn api_base(&self) -> String {
        or_default(&self.api_base, DISCORD_API_BASE)
    }

    /// The bot token, or an error that says where to find it.
    pub fn require_bot_token(&self) -> anyhow::Result<SecretString> {
        given_secret(&self.bot_token).ok_or_else(|| {
            anyhow::anyhow!("DISCORD_BOT_TOKEN is not set: copy the bot token from the Developer Portal")
        })
    }

    /// The application id, or an error that says where to find it.
    pub fn require_application_id(&self) -> anyhow::Result<String> {
        given(&self.application_id)
            .ok_or_else(|| anyhow::anyhow!("DISCORD_APPLICATION_ID is not set: copy it from the Developer Portal"))
    }
}

/// The HTTP API's keys. Any may be absent (every API call is then refused); a bad one stops the
/// start with a message that says so.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "HTTP API")]
pub struct ApiArgs {
    /// The shared secret HS256 API tokens are signed with.
    #[arg(
        id = "api_jwt_secret",
        value_name = "SECRET",
        long = "api-jwt-secret",
        env = "COUNTERSIGN_API_JWT_SECRET",
        hide_env_values = true,
        value_parser = secret
    )]
    pub jwt_secret: Option<SecretString>,
    /// A PEM file with the public key RS256 or EdDSA API tokens are checked with.
    #[arg(
        id = "api_jwt_public_key",
        long = "api-jwt-public-key",
        env = "COUNTERSIGN_API_JWT_PUBLIC_KEY",
        value_name = "PEM"
    )]
    pub jwt_public_key: Option<String>,
    #[command(flatten)]
    pub receipts: ReceiptArgs,
    /// How often the audit chain's head is signed into a checkpoint, when something happened
    /// since the last one (30m, 1h, 1d ...).
    #[arg(
        id = "checkpoint_interval",
        long = "checkpoint-interval",
        env = "COUNTERSIGN_CHECKPOINT_INTERVAL",
        value_name = "DURATION",
        default_value = "1h",
        value_parser = parse_interval
    )]
    pub checkpoint_interval: Duration,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    crate::policy::parse_duration(s.trim())
}

impl ApiArgs {
    /// Reads the keys.
    pub fn settings(&self) -> anyhow::Result<ApiSettings> {
        let public_key = given(&self.jwt_public_key).map(PathBuf::from);
        let auth = ApiAuth::new(
            given_secret(&self.jwt_secret).as_ref().map(ExposeSecret::expose_secret),
            public_key.as_deref(),
        )?;
        Ok(ApiSettings {
            auth,
            receipts: self.receipts.signer()?,
            checkpoint_every: Some(self.checkpoint_interval),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::server::ServeSettings;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn debug_of_the_settings_shows_no_secret() {
        let jwt = "jwt-secret-that-is-long-enough-0123456789abcdef";
        let secrets = [
            "db-pass-31",
            "slack-signing-new",
            "slack-signing-old",
            "xoxb-bot-31",
            "xapp-app-31",
            "discord-bot-31",
            jwt,
        ];
        let cli = Cli::try_parse_from([
            "countersign",
            "--database-url",
            "postgres://bot:db-pass-31@db/countersign",
            "--slack-signing-secret",
            "slack-signing-new,slack-signing-old",
            "--slack-bot-token",
            "xoxb-bot-31",
            "--slack-app-token",
            "xapp-app-31",
            "--discord-public-key",
            "00ff",
            "--discord-application-id",
            "123",
            "--discord-bot-token",
            "discord-bot-31",
            "--api-jwt-secret",
            jwt,
        ])
        .unwrap();
        let serve = ServeSettings {
            listen: cli.serve.listen,
            slack: cli.serve.slack.settings().unwrap(),
            discord: cli.serve.discord.settings(true).unwrap(),
            outbox: Default::default(),
            seal_every: Duration::from_millis(250),
            tick_every: Duration::from_secs(30),
            ack_budget: Duration::from_millis(2500),
            api: cli.serve.api.settings().unwrap(),
        };
        assert!(serve.slack.is_some() && serve.discord.is_some());
        let printed = format!("{cli:?}\n{serve:?}\n{:?}", cli.settings);
        for secret in secrets {
            assert!(!printed.contains(secret), "{secret} is in {printed}");
        }
        assert!(printed.contains("postgres://bot:***@db/countersign"), "{printed}");
    }

    #[test]
    fn blank_values_count_as_unset_and_a_half_configured_platform_is_named() {
        let blank =
            Cli::try_parse_from(["countersign", "--slack-signing-secret", " ", "--slack-bot-token", ""]).unwrap();
        assert!(blank.serve.slack.settings().unwrap().is_none());
        let half = Cli::try_parse_from(["countersign", "--slack-bot-token", "xoxb-1"]).unwrap();
        let err = half.serve.slack.settings().unwrap_err().to_string();
        assert!(err.contains("SLACK_SIGNING_SECRET is not"), "{err}");
        let half = Cli::try_parse_from(["countersign", "--discord-bot-token", "t"]).unwrap();
        let err = half.serve.discord.settings(false).unwrap_err().to_string();
        assert!(
            err.contains("set DISCORD_PUBLIC_KEY and DISCORD_APPLICATION_ID as well"),
            "{err}"
        );
    }
}
