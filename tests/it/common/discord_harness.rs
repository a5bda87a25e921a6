//! Drives the real server through `POST /discord/interactions`, with interactions signed exactly
//! as Discord signs them (Ed25519 over timestamp and body), against a fake Discord API.

use super::discord_sign::{keypair, sign};
use super::fake_discord::{FakeDiscord, APPLICATION_ID, BOT_TOKEN};
use super::Bot;
use countersign::clock::Clock;
use countersign::outbox::OutboxConfig;
use countersign::server::{self, DiscordSettings, Running, ServeSettings};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The guild and channel requests are opened in.
pub const GUILD: &str = "561884984214814744";
/// The finance channel.
pub const CHANNEL: &str = "938391701561679903";

/// Discord user ids of the example people (from commands/people.toml).
pub fn discord_user(person: &str) -> &'static str {
    match person {
        "alice" => "111111111111111111",
        "bob" => "222222222222222222",
        "carol" => "333333333333333333",
        "dave" => "444444444444444444",
        "erin" => "555555555555555555",
        "frank" => "666666666666666666",
        "grace" => "777777777777777777",
        "heidi" => "888888888888888888",
        "ivan" => "999999999999999999",
        "judy" => "101010101010101010",
        _ => "123456789012345678",
    }
}

/// The server, its database and the fake Discord.
pub struct DiscordBot {
    pub bot: Bot,
    pub fake: FakeDiscord,
    pub running: Option<Running>,
    pub base: String,
    key: SigningKey,
    http: reqwest::Client,
    seq: AtomicU64,
}

impl DiscordBot {
    /// Starts everything on `pool` with the example commands/.
    pub async fn start(pool: PgPool) -> DiscordBot {
        let bot = Bot::new(pool).await;
        let fake = FakeDiscord::start().await;
        let (key, public) = keypair();
        let settings = ServeSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            slack: None,
            discord: Some(DiscordSettings {
                public_key: public,
                application_id: APPLICATION_ID.to_string(),
                bot_token: BOT_TOKEN.into(),
                api_base: fake.base_url(),
                gateway: false,
            }),
            outbox: OutboxConfig {
                backoff_base: Duration::from_millis(50),
                poll: Duration::from_millis(20),
                ..OutboxConfig::default()
            },
            seal_every: Duration::from_millis(50),
            tick_every: Duration::from_secs(3600),
            ack_budget: Duration::from_millis(2500),
            api: Default::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(bot.clock.clone());
        let running = server::start(bot.engine.clone(), clock, settings, listener)
            .await
            .unwrap();
        let base = format!("http://{}", running.addr);
        DiscordBot {
            bot,
            fake,
            running: Some(running),
            base,
            key,
            http: reqwest::Client::new(),
            seq: AtomicU64::new(1),
        }
    }

    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst)
    }

    /// POSTs a body signed as Discord signs it, at the bot's clock.
    pub async fn post_signed(&self, body: &str) -> (u16, String) {
        let ts = self.bot.clock.now().timestamp().to_string();
        let res = self
            .http
            .post(format!("{}/discord/interactions", self.base))
            .header("content-type", "application/json")
            .header("x-signature-timestamp", &ts)
            .header("x-signature-ed25519", sign(&self.key, &ts, body))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// Sends an interaction and returns the parsed response.
    pub async fn send(&self, interaction: &Value) -> Value {
        let (status, text) = self.post_signed(&interaction.to_string()).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    fn envelope(&self, person: &str, kind: u64, data: Value) -> Value {
        let n = self.next();
        json!({
            "id": format!("99000000000000{n:04}"),
            "application_id": APPLICATION_ID,
            "type": kind,
            "token": format!("interaction-token-{n}"),
            "version": 1,
            "guild_id": GUILD,
            "channel_id": CHANNEL,
            "member": { "user": { "id": discord_user(person), "username": person }, "roles": [], "permissions": "0" },
            "data": data,
        })
    }

    /// `/approval <sub>` with string options.
    pub fn command(&self, person: &str, sub: &str, options: &[(&str, &str)]) -> Value {
        let opts: Vec<Value> = options
            .iter()
            .map(|(k, v)| json!({ "name": k, "type": 3, "value": v }))
            .collect();
        self.envelope(
            person,
            2,
            json!({
                "id": "870616445036421159", "name": "approval", "type": 1,
                "options": [{ "name": sub, "type": 1, "options": opts }]
            }),
        )
    }

    /// A button press on a card.
    pub fn press(&self, person: &str, custom_id: &str) -> Value {
        self.envelope(person, 3, json!({ "custom_id": custom_id, "component_type": 2 }))
    }

    /// A modal submission.
    pub fn submit(&self, person: &str, custom_id: &str, values: &[(&str, &str)]) -> Value {
        let rows: Vec<Value> = values
            .iter()
            .map(|(k, v)| json!({ "type": 1, "components": [{ "type": 4, "custom_id": k, "value": v }] }))
            .collect();
        self.envelope(person, 5, json!({ "custom_id": custom_id, "components": rows }))
    }

    /// Waits until the outbox is empty (delivered or dead).
    pub async fn drained(&self) {
        self.bot.drained().await
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}
