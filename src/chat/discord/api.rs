//! The Discord REST API as Countersign uses it (v10, `Authorization: Bot ...`). Requests go
//! through reqwest rather than serenity's `Http` so that a 429's `retry_after` (and the global
//! limit) reach the outbox intact; serenity's error type drops them.

use crate::outbox::DeliveryError;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The body that opens a DM channel.
#[derive(Serialize)]
struct DmRecipient<'a> {
    recipient_id: &'a str,
}

/// A Discord REST client.
#[derive(Clone)]
pub struct DiscordApi {
    http: reqwest::Client,
    base: String,
    token: String,
    application_id: String,
    dm_channels: Arc<Mutex<HashMap<String, String>>>,
    /// Set by a global 429: until then no call is made at all.
    global_wait: Arc<Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for DiscordApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DiscordApi({}, token hidden)", self.base)
    }
}

impl DiscordApi {
    /// A client for `base` (`https://discord.com`, or a loopback fake).
    pub fn new(base: &str, token: &str, application_id: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        Ok(DiscordApi {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            application_id: application_id.to_string(),
            dm_channels: Arc::default(),
            global_wait: Arc::default(),
        })
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    #[tracing::instrument(name = "discord", skip_all, fields(method = %method))]
    async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Value, DeliveryError> {
        let blocked = *self.global_wait.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(left) = blocked.and_then(|until| until.checked_duration_since(Instant::now())) {
            return Err(DeliveryError::RateLimited { retry_after: left });
        }
        let mut req = self
            .http
            .request(method, format!("{}/api/v10{path}", self.base))
            .header("Authorization", format!("Bot {}", self.token))
            .header("User-Agent", "DiscordBot (https://countersign.example, 0.1)");
        if let Some(b) = body {
            req = req.json(b);
        }
        let started = Instant::now();
        let res = req.send().await;
        let route = path.split('/').nth(1).unwrap_or("other");
        crate::metrics::platform_call("discord", route, started.elapsed());
        let res = res.map_err(|e| DeliveryError::Transient(format!("Discord unreachable: {e}")))?;
        let status = res.status();
        let header_retry = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok());
        let is_global = res.headers().get("x-ratelimit-global").is_some();
        let text = res.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            crate::metrics::rate_limited("discord");
            let secs = value
                .get("retry_after")
                .and_then(Value::as_f64)
                .or(header_retry)
                .unwrap_or(1.0);
            let retry_after = Duration::from_secs_f64(secs.clamp(0.0, 3600.0));
            if is_global || value.get("global").and_then(Value::as_bool) == Some(true) {
                // The global limit stops every call, not only this one.
                *self.global_wait.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + retry_after);
            }
            return Err(DeliveryError::RateLimited { retry_after });
        }
        let what = format!(
            "Discord answered HTTP {status}: {} (code {})",
            value.get("message").and_then(Value::as_str).unwrap_or("no message"),
            value.get("code").map(Value::to_string).unwrap_or_default()
        );
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            Err(DeliveryError::Transient(what))
        } else {
            Err(DeliveryError::Permanent(what))
        }
    }

    fn id_of(v: &Value) -> Result<String, DeliveryError> {
        v.get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| DeliveryError::Transient("Discord answered without an id".into()))
    }

    /// Posts a message in a channel; returns the message id.
    pub async fn post_message(
        &self,
        channel: &str,
        message: &(impl Serialize + ?Sized),
    ) -> Result<String, DeliveryError> {
        Self::id_of(
            &self
                .call(Method::POST, &format!("/channels/{channel}/messages"), Some(message))
                .await?,
        )
    }

    /// Edits a posted message.
    pub async fn edit_message(
        &self,
        channel: &str,
        message_id: &str,
        message: &(impl Serialize + ?Sized),
    ) -> Result<(), DeliveryError> {
        self.call(
            Method::PATCH,
            &format!("/channels/{channel}/messages/{message_id}"),
            Some(message),
        )
        .await
        .map(|_| ())
    }

    /// The DM channel with a user (created once, then remembered).
    pub async fn dm_channel(&self, user: &str) -> Result<String, DeliveryError> {
        if let Some(c) = self.dm_channels.lock().unwrap_or_else(|p| p.into_inner()).get(user) {
            return Ok(c.clone());
        }
        let channel = Self::id_of(
            &self
                .call(
                    Method::POST,
                    "/users/@me/channels",
                    Some(&DmRecipient { recipient_id: user }),
                )
                .await?,
        )?;
        self.dm_channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_string(), channel.clone());
        Ok(channel)
    }

    /// Replaces the deferred answer of an interaction.
    pub async fn edit_original(&self, token: &str, message: &(impl Serialize + ?Sized)) -> Result<(), DeliveryError> {
        let path = format!("/webhooks/{}/{token}/messages/@original", self.application_id);
        self.call(Method::PATCH, &path, Some(message)).await.map(|_| ())
    }

    /// Answers an interaction received over the gateway.
    pub async fn interaction_callback(
        &self,
        id: &str,
        token: &str,
        response: &(impl Serialize + ?Sized),
    ) -> Result<(), DeliveryError> {
        self.call(
            Method::POST,
            &format!("/interactions/{id}/{token}/callback"),
            Some(response),
        )
        .await
        .map(|_| ())
    }

    /// Registers the application's commands, globally or in one guild (bulk overwrite).
    pub async fn register_commands(
        &self,
        guild: Option<&str>,
        commands: &(impl Serialize + ?Sized),
    ) -> Result<Value, DeliveryError> {
        let path = match guild {
            Some(g) => format!("/applications/{}/guilds/{g}/commands", self.application_id),
            None => format!("/applications/{}/commands", self.application_id),
        };
        self.call(Method::PUT, &path, Some(commands)).await
    }
}
