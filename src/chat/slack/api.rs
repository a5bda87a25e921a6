//! The Slack Web API client (slack-morphism over hyper), with its failures sorted into what the
//! outbox should retry, wait for, or give up on.

use super::blocks::escape;
use crate::outbox::DeliveryError;
use anyhow::Context;
use hyper_rustls::HttpsConnectorBuilder;
use slack_morphism::api::{
    SlackApiChatPostEphemeralRequest, SlackApiChatPostMessageRequest, SlackApiChatUpdateRequest,
    SlackApiViewsOpenRequest,
};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::{SlackBlock, SlackMessageContent, SlackView};
use slack_morphism::prelude::{SlackClientHyperConnector, SlackHyperClient};
use slack_morphism::{SlackApiToken, SlackApiTokenValue, SlackClient};
use std::sync::Arc;
use std::time::Duration;

/// Slack API error codes that will never succeed on retry.
const PERMANENT: &[&str] = &[
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "user_not_found",
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "cant_update_message",
    "message_not_found",
    "no_text",
    "invalid_arguments",
    "account_inactive",
];

/// A posted message: the channel it landed in (a DM channel for users) and its timestamp id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    /// Channel id.
    pub channel: String,
    /// Message `ts`.
    pub ts: String,
}

/// How long one Web API call may take before it is abandoned (Slack's own budget for a
/// method is a few seconds). Without it, a call Slack accepts but never answers would hold a
/// delivery loop forever.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The Web API, as Countersign uses it.
#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    timeout: Duration,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackApi(token hidden)")
    }
}

impl SlackApi {
    /// A client for `api_url` (`https://slack.com/api`, or a loopback fake over plain http).
    pub fn new(api_url: &str, bot_token: &str) -> anyhow::Result<Self> {
        let connector = HttpsConnectorBuilder::new()
            .with_native_roots()
            .context("loading the system's TLS roots")?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let connector =
            SlackClientHyperConnector::with_connector(connector).with_slack_api_url(api_url.trim_end_matches('/'));
        Ok(SlackApi {
            client: Arc::new(SlackClient::new(connector)),
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.to_string())),
            timeout: CALL_TIMEOUT,
        })
    }

    /// The same client with another per-call timeout (at most [`CALL_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.min(CALL_TIMEOUT);
        self
    }

    /// Posts a message (to a channel, or to a user id for a DM). `text` is what notifications
    /// show: it is plain text here, escaped so that nothing a person typed (a reject reason, a
    /// vendor) becomes a mention, `<!channel>` or a link.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: &[SlackBlock],
    ) -> Result<Posted, DeliveryError> {
        let req = SlackApiChatPostMessageRequest::new(channel.into(), content(text, blocks)).with_unfurl_links(false);
        let session = self.client.open_session(&self.token);
        let res = self.call("chat_post_message", session.chat_post_message(&req)).await?;
        Ok(Posted {
            channel: res.channel.to_string(),
            ts: res.ts.to_string(),
        })
    }

    /// Replaces a posted message.
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &[SlackBlock],
    ) -> Result<(), DeliveryError> {
        let req = SlackApiChatUpdateRequest::new(channel.into(), content(text, blocks), ts.into());
        let session = self.client.open_session(&self.token);
        self.call("chat_update", session.chat_update(&req)).await?;
        Ok(())
    }

    /// A message only `user` sees, in `channel`.
    pub async fn post_ephemeral(&self, channel: &str, user: &str, text: &str) -> Result<(), DeliveryError> {
        let req = SlackApiChatPostEphemeralRequest::new(
            channel.into(),
            user.into(),
            SlackMessageContent::new().with_text(escape(text)),
        );
        let session = self.client.open_session(&self.token);
        self.call("chat_post_ephemeral", session.chat_post_ephemeral(&req))
            .await?;
        Ok(())
    }

    /// Opens a modal; the trigger id is valid for 3 seconds after the click or command.
    pub async fn open_view(&self, trigger_id: &str, view: SlackView) -> Result<(), DeliveryError> {
        let req = SlackApiViewsOpenRequest::new(trigger_id.into(), view);
        let session = self.client.open_session(&self.token);
        self.call("views_open", session.views_open(&req)).await?;
        Ok(())
    }
}

impl SlackApi {
    /// Runs one Web API call within the timeout, timed for the metrics, its failure sorted. A
    /// call that times out may still have been carried out by Slack: it is retried as transient
    /// (docs/slack.md says what that can double).
    #[tracing::instrument(name = "slack", skip_all, fields(method = method))]
    async fn call<T>(
        &self,
        method: &'static str,
        call: impl std::future::Future<Output = Result<T, SlackClientError>>,
    ) -> Result<T, DeliveryError> {
        let started = std::time::Instant::now();
        let out = tokio::time::timeout(self.timeout, call).await;
        crate::metrics::platform_call("slack", method, started.elapsed());
        match out {
            Ok(answered) => answered.map_err(classify),
            Err(_) => {
                crate::metrics::timed_out("slack");
                Err(DeliveryError::Transient(format!(
                    "Slack did not answer {method} within {} s",
                    self.timeout.as_secs_f64()
                )))
            }
        }
    }
}

/// A message's content: `text` escaped (it is what notifications show) and its blocks, sent
/// even when there are none.
fn content(text: &str, blocks: &[SlackBlock]) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(escape(text))
        .with_blocks(blocks.to_vec())
}

/// Sorts a client error into retry, wait, or give up.
fn classify(e: SlackClientError) -> DeliveryError {
    match e {
        SlackClientError::RateLimitError(r) => {
            crate::metrics::rate_limited("slack");
            DeliveryError::RateLimited {
                retry_after: r.retry_after.unwrap_or(Duration::from_secs(1)),
            }
        }
        SlackClientError::ApiError(a) if a.code == "ratelimited" => DeliveryError::RateLimited {
            retry_after: Duration::from_secs(1),
        },
        SlackClientError::ApiError(a) if PERMANENT.contains(&a.code.as_str()) => {
            DeliveryError::Permanent(format!("Slack API error {}", a.code))
        }
        SlackClientError::ApiError(a) => DeliveryError::Transient(format!("Slack API error {}", a.code)),
        SlackClientError::HttpError(h) if h.status_code.is_client_error() && h.status_code.as_u16() != 408 => {
            DeliveryError::Permanent(format!("Slack answered HTTP {}", h.status_code))
        }
        SlackClientError::HttpError(h) => DeliveryError::Transient(format!("Slack answered HTTP {}", h.status_code)),
        other => DeliveryError::Transient(format!("Slack unreachable: {other}")),
    }
}
