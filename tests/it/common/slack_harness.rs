//! Drives the real server through its Slack routes, with requests signed exactly as Slack signs
//! them, against a fake Slack Web API on loopback.

use super::fake_slack::{FakeSlack, DEFAULT_TOKEN};
use super::slack_sign::{interaction_body, percent_encode, signature};
use super::Bot;
use countersign::clock::Clock;
use countersign::outbox::OutboxConfig;
use countersign::server::{self, ApiSettings, Running, ServeSettings, SlackSettings};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The signing secret the test server is configured with.
pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5-test";
/// The channel requests are opened in.
pub const CHANNEL: &str = "C0FINANCE";

/// Slack user ids of the example people (workspace T0001).
pub fn slack_user(person: &str) -> String {
    format!("U0{}", person.to_uppercase())
}

/// The outbox tuning of the tests: quick retries and polls.
pub fn quick_outbox() -> OutboxConfig {
    OutboxConfig {
        backoff_base: Duration::from_millis(50),
        poll: Duration::from_millis(20),
        ..OutboxConfig::default()
    }
}

/// The server, its database and the fake Slack.
pub struct SlackBot {
    pub bot: Bot,
    pub fake: FakeSlack,
    pub running: Option<Running>,
    pub base: String,
    http: reqwest::Client,
    seq: AtomicU64,
}

impl SlackBot {
    /// Starts everything on `pool` with the example commands/.
    pub async fn start(pool: PgPool) -> SlackBot {
        SlackBot::start_with(pool, Duration::from_millis(2500)).await
    }

    /// The same, with a given acknowledgement budget.
    pub async fn start_with(pool: PgPool, ack_budget: Duration) -> SlackBot {
        SlackBot::start_bot(Bot::new(pool).await, ack_budget, ApiSettings::default(), quick_outbox()).await
    }

    /// The same, with a given outbox tuning.
    pub async fn start_with_outbox(pool: PgPool, outbox: OutboxConfig) -> SlackBot {
        let budget = Duration::from_millis(2500);
        SlackBot::start_bot(Bot::new(pool).await, budget, ApiSettings::default(), outbox).await
    }

    /// Starts everything with a given commands/ directory and API keys.
    pub async fn start_with_api(pool: PgPool, commands: &std::path::Path, api: ApiSettings) -> SlackBot {
        let bot = Bot::with_commands(pool, commands).await;
        SlackBot::start_bot(bot, Duration::from_millis(2500), api, quick_outbox()).await
    }

    async fn start_bot(bot: Bot, ack_budget: Duration, api: ApiSettings, outbox: OutboxConfig) -> SlackBot {
        let fake = FakeSlack::start().await;
        let settings = ServeSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            slack: Some(SlackSettings {
                signing_secrets: vec![SECRET.into()],
                bot_token: DEFAULT_TOKEN.into(),
                app_token: None,
                api_url: fake.api_url(),
            }),
            discord: None,
            outbox,
            seal_every: Duration::from_millis(50),
            tick_every: Duration::from_secs(3600),
            ack_budget,
            api,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(bot.clock.clone());
        let running = server::start(bot.engine.clone(), clock, settings, listener)
            .await
            .unwrap();
        let base = format!("http://{}", running.addr);
        SlackBot {
            bot,
            fake,
            running: Some(running),
            base,
            http: reqwest::Client::new(),
            seq: AtomicU64::new(1),
        }
    }

    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst)
    }

    /// POSTs `body` to `path`, signed as Slack signs it (at the bot's clock).
    pub async fn post_signed(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let ts = self.bot.clock.now().timestamp();
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", signature(SECRET, ts, &body));
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req.body(body).send().await.unwrap()
    }

    /// `/approval <text>` typed by `person` in the finance channel; returns the JSON answer.
    pub async fn command(&self, person: &str, text: &str) -> Value {
        let n = self.next();
        let body = format!(
            "token=x&team_id=T0001&team_domain=acme&channel_id={CHANNEL}&channel_name=finance&user_id={}&user_name={person}\
             &command=%2Fapproval&text={}&response_url=https%3A%2F%2Fhooks.slack.test%2F{n}&trigger_id={n}.1.trigger",
            slack_user(person),
            percent_encode(text)
        );
        let res = self
            .post_signed("/slack/commands", "application/x-www-form-urlencoded", body, &[])
            .await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
    }

    /// A block_actions payload: `person` pressed `action_id` with `value` on a card in `channel`.
    pub fn press_payload(&self, person: &str, action_id: &str, value: &str, channel: &str) -> Value {
        let n = self.next();
        json!({
            "type": "block_actions",
            "team": { "id": "T0001", "domain": "acme" },
            "user": { "id": slack_user(person), "username": person, "team_id": "T0001" },
            "api_app_id": "A0COUNTERSIGN",
            "trigger_id": format!("{n}.2.trigger"),
            "container": { "type": "message", "message_ts": "1700000000.000100", "channel_id": channel, "is_ephemeral": false },
            "channel": { "id": channel, "name": "finance" },
            "response_url": format!("https://hooks.slack.test/actions/{n}"),
            "actions": [{
                "type": "button", "block_id": "countersign_actions", "action_id": action_id,
                "text": { "type": "plain_text", "text": action_id }, "value": value,
                "action_ts": format!("1700000{n:03}.{n:06}")
            }]
        })
    }

    /// Sends an interaction payload; returns the HTTP status and body.
    pub async fn interact(&self, payload: &Value, extra: &[(&str, &str)]) -> (u16, String) {
        let res = self
            .post_signed(
                "/slack/interactions",
                "application/x-www-form-urlencoded",
                interaction_body(payload),
                extra,
            )
            .await;
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// `person` presses a button on the card in the finance channel.
    pub async fn press(&self, person: &str, action_id: &str, value: &str) -> (u16, String) {
        let payload = self.press_payload(person, action_id, value, CHANNEL);
        self.interact(&payload, &[]).await
    }

    /// Submits the modal last opened with views.open, with `values` (block_id -> value).
    pub async fn submit_last_view(&self, person: &str, values: &[(&str, &str)]) -> (u16, String) {
        let opened = self.fake.calls_to("views.open");
        let view = opened.last().expect("a modal was opened").body["view"].clone();
        let view = if view.is_string() {
            serde_json::from_str(view.as_str().unwrap()).unwrap()
        } else {
            view
        };
        let mut state = serde_json::Map::new();
        for (block, value) in values {
            state.insert(
                block.to_string(),
                json!({ "value": { "type": "plain_text_input", "value": value } }),
            );
        }
        let payload = json!({
            "type": "view_submission",
            "team": { "id": "T0001", "domain": "acme" },
            "user": { "id": slack_user(person), "team_id": "T0001" },
            "view": {
                "id": format!("V{}", self.next()),
                "team_id": "T0001",
                "type": "modal",
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "state": { "values": state },
                "hash": "1700000000.abc"
            }
        });
        self.interact(&payload, &[]).await
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
