//! Delivers outbox intents to the platforms: renders cards from the request's current state and
//! posts, updates or sends them, remembering every posted copy.

use super::render;
use super::slack::blocks::{card_blocks, card_fallback};
use super::slack::SlackApi;
use crate::engine::{Engine, RequestView};
use crate::outbox::{ChatPlace, ChatUser, Deliverer, DeliveryError, Intent, Job, Platform};
use crate::store::chat_messages::{self, CardCopy};

/// The platform clients the outbox delivers through.
#[derive(Clone, Debug)]
pub struct ChatDeliverer {
    engine: Engine,
    slack: Option<SlackApi>,
}

fn transient(e: anyhow::Error) -> DeliveryError {
    DeliveryError::Transient(format!("{e:#}"))
}

impl ChatDeliverer {
    /// A deliverer; platforms without a client dead-letter their messages.
    pub fn new(engine: Engine, slack: Option<SlackApi>) -> Self {
        ChatDeliverer { engine, slack }
    }

    fn slack(&self) -> Result<&SlackApi, DeliveryError> {
        self.slack
            .as_ref()
            .ok_or_else(|| DeliveryError::Permanent("Slack is not configured (SLACK_BOT_TOKEN)".into()))
    }

    async fn view(&self, r#ref: &str) -> Result<RequestView, DeliveryError> {
        self.engine
            .current_view(r#ref)
            .await
            .map_err(transient)?
            .ok_or_else(|| DeliveryError::Permanent(format!("no request {ref}")))
    }

    async fn post_card(
        &self,
        r#ref: &str,
        platform: Platform,
        workspace: Option<&str>,
        channel: &str,
    ) -> Result<(), DeliveryError> {
        let card = render::card(&self.view(r#ref).await?);
        match platform {
            Platform::Slack => {
                let posted = self
                    .slack()?
                    .post_message(channel, &card_fallback(&card), &card_blocks(&card))
                    .await?;
                let copy = CardCopy {
                    platform: platform.to_string(),
                    workspace: workspace.map(str::to_owned),
                    channel: posted.channel,
                    message_id: posted.ts,
                };
                chat_messages::record(self.engine.pool(), r#ref, &copy)
                    .await
                    .map_err(transient)
            }
            Platform::Discord => Err(DeliveryError::Permanent("Discord delivery is not available yet".into())),
        }
    }

    async fn update_cards(&self, r#ref: &str) -> Result<(), DeliveryError> {
        let copies = chat_messages::copies(self.engine.pool(), r#ref)
            .await
            .map_err(transient)?;
        if copies.is_empty() {
            return Ok(());
        }
        let card = render::card(&self.view(r#ref).await?);
        for copy in copies {
            if copy.platform == Platform::Slack.to_string() {
                self.slack()?
                    .update(
                        &copy.channel,
                        &copy.message_id,
                        &card_fallback(&card),
                        &card_blocks(&card),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn confirm(&self, r#ref: &str, to: &ChatUser) -> Result<(), DeliveryError> {
        let view = self.view(r#ref).await?;
        let Some(text) = render::confirmation(&view) else {
            return Ok(());
        };
        match to.platform {
            Platform::Slack => {
                let card = render::card(&view);
                let mut blocks = vec![
                    serde_json::json!({ "type": "section", "text": { "type": "mrkdwn", "text": super::slack::blocks::escape(&text) } }),
                ];
                blocks.extend(card_blocks(&card));
                self.slack()?.post_message(&to.user, &text, &blocks).await.map(|_| ())
            }
            Platform::Discord => Err(DeliveryError::Permanent("Discord delivery is not available yet".into())),
        }
    }

    async fn ephemeral(&self, place: &ChatPlace, user: &str, text: &str) -> Result<(), DeliveryError> {
        match place.platform {
            // In a DM (or with no channel) an ephemeral message cannot be shown: send a DM.
            Platform::Slack if place.channel == user || place.channel.starts_with('D') => {
                self.slack()?.post_message(user, text, &[]).await.map(|_| ())
            }
            Platform::Slack => self.slack()?.post_ephemeral(&place.channel, user, text).await,
            Platform::Discord => Err(DeliveryError::Permanent("Discord delivery is not available yet".into())),
        }
    }
}

impl Deliverer for ChatDeliverer {
    async fn deliver(&self, job: &Job) -> Result<(), DeliveryError> {
        match &job.intent {
            Intent::PostCard { r#ref, place } => {
                self.post_card(r#ref, place.platform, place.workspace.as_deref(), &place.channel)
                    .await
            }
            Intent::DmCard { r#ref, to } => {
                self.post_card(r#ref, to.platform, to.workspace.as_deref(), &to.user)
                    .await
            }
            Intent::UpdateCards { r#ref } => self.update_cards(r#ref).await,
            Intent::Confirm { r#ref, to } => self.confirm(r#ref, to).await,
            Intent::Ephemeral { place, user, text } => self.ephemeral(place, user, text).await,
        }
    }
}
