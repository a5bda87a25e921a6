//! Delivers outbox intents to the platforms: renders cards from the request's current state and
//! posts, updates or sends them, remembering every posted copy; receipts go to webhooks.

use super::discord::{components as discord_ui, DiscordApi};
use super::render::{self, Card};
use super::slack::blocks::{card_blocks, escape};
use super::slack::SlackApi;
use crate::api::webhook::WebhookSender;
use crate::engine::{Engine, RequestView};
use crate::outbox::{ChatPlace, ChatUser, Completions, Deliverer, DeliveryError, Intent, Job, Platform};
use crate::store::chat_messages::{self, CardCopy};
use serde_json::json;
use std::collections::HashMap;

/// The platform clients the outbox delivers through.
#[derive(Clone, Debug)]
pub struct ChatDeliverer {
    engine: Engine,
    slack: Option<SlackApi>,
    discord: Option<DiscordApi>,
    webhooks: Option<WebhookSender>,
}

fn transient(e: anyhow::Error) -> DeliveryError {
    DeliveryError::Transient(format!("{e:#}"))
}

impl ChatDeliverer {
    /// A deliverer; platforms without a client dead-letter their messages.
    pub fn new(engine: Engine, slack: Option<SlackApi>, discord: Option<DiscordApi>) -> Self {
        ChatDeliverer {
            engine,
            slack,
            discord,
            webhooks: None,
        }
    }

    /// Also delivers decision receipts to webhooks (without it they are dead-lettered).
    pub fn with_webhooks(mut self, webhooks: WebhookSender) -> Self {
        self.webhooks = Some(webhooks);
        self
    }

    fn slack(&self) -> Result<&SlackApi, DeliveryError> {
        self.slack
            .as_ref()
            .ok_or_else(|| DeliveryError::Permanent("Slack is not configured (SLACK_BOT_TOKEN)".into()))
    }

    fn discord(&self) -> Result<&DiscordApi, DeliveryError> {
        self.discord
            .as_ref()
            .ok_or_else(|| DeliveryError::Permanent("Discord is not configured (DISCORD_BOT_TOKEN)".into()))
    }

    fn view(&self, round: &Round, r#ref: &str) -> Result<RequestView, DeliveryError> {
        round
            .views
            .get(r#ref)
            .cloned()
            .ok_or_else(|| DeliveryError::Permanent(format!("no request {ref}")))
    }

    /// Reads what a round of jobs needs in two statements, rather than several per job.
    async fn prefetch(&self, jobs: &[Job]) -> anyhow::Result<Round> {
        let mut refs: Vec<String> = jobs
            .iter()
            .filter(|j| !matches!(j.intent, Intent::Webhook { .. }))
            .filter_map(|j| j.intent.r#ref().map(str::to_owned))
            .collect();
        refs.sort();
        refs.dedup();
        let updated: Vec<String> = jobs
            .iter()
            .filter_map(|j| match &j.intent {
                Intent::UpdateCards { r#ref } => Some(r#ref.clone()),
                _ => None,
            })
            .collect();
        let views = match refs.is_empty() {
            true => HashMap::new(),
            false => self.engine.current_views(&refs).await?,
        };
        let copies = chat_messages::copies_of(self.engine.pool(), &updated).await?;
        Ok(Round { views, copies })
    }

    /// Posts the card in a channel (or a user's DM), under an optional line of text, and
    /// remembers the copy so that it is updated with the request.
    async fn post_card(
        &self,
        round: &Round,
        r#ref: &str,
        platform: Platform,
        workspace: Option<&str>,
        to: Target<'_>,
        preface: Option<&str>,
    ) -> Result<(), DeliveryError> {
        let card = render::card(&self.view(round, r#ref)?, self.engine.clock().now());
        let (channel, message_id) = match platform {
            Platform::Slack => {
                let mut blocks = Vec::new();
                if let Some(p) = preface {
                    blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": escape(p) } }));
                }
                blocks.extend(card_blocks(&card));
                let text = preface.map(str::to_owned).unwrap_or_else(|| card.notification());
                let posted = self.slack()?.post_message(to.id(), &text, &blocks).await?;
                (posted.channel, posted.ts)
            }
            Platform::Discord => {
                let api = self.discord()?;
                let channel = match to {
                    Target::Channel(c) => c.to_string(),
                    Target::User(u) => api.dm_channel(u).await?,
                };
                let id = api
                    .post_message(&channel, &discord_ui::card_message(&card, preface))
                    .await?;
                (channel, id)
            }
        };
        let copy = CardCopy {
            platform: platform.to_string(),
            workspace: workspace.map(str::to_owned),
            channel,
            message_id,
        };
        chat_messages::record(self.engine.pool(), r#ref, &copy)
            .await
            .map_err(transient)
    }

    async fn update_cards(&self, round: &Round, r#ref: &str) -> Result<(), DeliveryError> {
        let copies = round.copies.get(r#ref).map(Vec::as_slice).unwrap_or_default();
        if copies.is_empty() {
            return Ok(());
        }
        let card = render::card(&self.view(round, r#ref)?, self.engine.clock().now());
        // Every copy at once: one slow channel must not hold the others past the deadline.
        let updates = copies.iter().map(|copy| self.update_copy(copy, &card));
        futures_util::future::join_all(updates)
            .await
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .map(|_| ())
    }

    async fn update_copy(&self, copy: &CardCopy, card: &Card) -> Result<(), DeliveryError> {
        if copy.platform == Platform::Slack.to_string() {
            self.slack()?
                .update(
                    &copy.channel,
                    &copy.message_id,
                    &card.notification(),
                    &card_blocks(card),
                )
                .await
        } else if copy.platform == Platform::Discord.to_string() {
            let message = discord_ui::card_message(card, None);
            self.discord()?
                .edit_message(&copy.channel, &copy.message_id, &message)
                .await
        } else {
            Ok(())
        }
    }

    /// A private message to a person, with the card under it when there is one.
    async fn direct(&self, to: &ChatUser, text: &str, card: Option<&Card>) -> Result<(), DeliveryError> {
        match to.platform {
            Platform::Slack => {
                let mut blocks = Vec::new();
                if let Some(card) = card {
                    blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": escape(text) } }));
                    blocks.extend(card_blocks(card));
                }
                self.slack()?.post_message(&to.user, text, &blocks).await.map(|_| ())
            }
            Platform::Discord => {
                let api = self.discord()?;
                let channel = api.dm_channel(&to.user).await?;
                let message = match card {
                    Some(card) => discord_ui::card_message(card, Some(text)),
                    None => json!({ "content": text, "allowed_mentions": { "parse": [] } }),
                };
                api.post_message(&channel, &message).await.map(|_| ())
            }
        }
    }

    async fn confirm(&self, round: &Round, r#ref: &str, to: &ChatUser) -> Result<(), DeliveryError> {
        let view = self.view(round, r#ref)?;
        let Some(text) = render::confirmation(&view) else {
            return Ok(());
        };
        let card = render::card_for(&view, self.engine.clock().now(), &view.requester.id);
        self.direct(to, &text, Some(&card)).await
    }

    async fn ephemeral(&self, place: &ChatPlace, user: &str, text: &str) -> Result<(), DeliveryError> {
        let as_dm = ChatUser {
            platform: place.platform,
            workspace: place.workspace.clone(),
            user: user.to_string(),
        };
        match place.platform {
            // In a DM (or with no channel) an ephemeral message cannot be shown: send a DM.
            Platform::Slack if place.channel == user || place.channel.starts_with('D') => {
                self.direct(&as_dm, text, None).await
            }
            Platform::Slack => self.slack()?.post_ephemeral(&place.channel, user, text).await,
            // Discord shows ephemeral messages only as interaction answers: send a DM instead.
            Platform::Discord => self.direct(&as_dm, text, None).await,
        }
    }
}

impl ChatDeliverer {
    /// Posts an owner's digest.
    async fn digest(
        &self,
        digest: &serde_json::Value,
        platform: Platform,
        to: Target<'_>,
    ) -> Result<(), DeliveryError> {
        let d: crate::digest::compose::Digest = serde_json::from_value(digest.clone())
            .map_err(|e| DeliveryError::Permanent(format!("unreadable digest: {e}")))?;
        match platform {
            Platform::Slack => {
                let text = crate::digest::render::text(&d);
                let title = text.lines().next().unwrap_or_default().to_string();
                self.slack()?
                    .post_message(to.id(), &title, &crate::digest::render::slack_blocks(&d))
                    .await
                    .map(|_| ())
            }
            Platform::Discord => {
                let api = self.discord()?;
                let channel = match to {
                    Target::Channel(c) => c.to_string(),
                    Target::User(u) => api.dm_channel(u).await?,
                };
                let message = json!({ "embeds": [crate::digest::render::discord_embed(&d)], "allowed_mentions": { "parse": [] } });
                api.post_message(&channel, &message).await.map(|_| ())
            }
        }
    }
}

/// What one round of deliveries read at its start. Cards are still rendered from state read
/// after their messages were claimed.
struct Round {
    views: HashMap<String, RequestView>,
    copies: HashMap<String, Vec<CardCopy>>,
}

/// Where a card goes: a channel, or a user's direct messages.
#[derive(Clone, Copy)]
enum Target<'a> {
    Channel(&'a str),
    User(&'a str),
}

impl Target<'_> {
    fn id(&self) -> &str {
        match self {
            Target::Channel(c) | Target::User(c) => c,
        }
    }
}

impl Deliverer for ChatDeliverer {
    async fn deliver(&self, job: &Job) -> Result<(), DeliveryError> {
        let round = self.prefetch(std::slice::from_ref(job)).await.map_err(transient)?;
        self.deliver_in(&round, job).await
    }

    async fn deliver_all(&self, jobs: &[Job], done: &Completions) {
        match self.prefetch(jobs).await {
            Ok(round) => {
                let round = &round;
                let each = jobs.iter().enumerate().map(|(i, job)| async move {
                    done.done(i, self.deliver_in(round, job).await);
                });
                futures_util::future::join_all(each).await;
            }
            // Nothing can be rendered without the database: every job is retried later.
            Err(e) => {
                let why = format!("{e:#}");
                for i in 0..jobs.len() {
                    done.done(i, Err(DeliveryError::Transient(why.clone())));
                }
            }
        }
    }
}

impl ChatDeliverer {
    async fn deliver_in(&self, round: &Round, job: &Job) -> Result<(), DeliveryError> {
        match &job.intent {
            Intent::PostCard { r#ref, place } => {
                let to = Target::Channel(&place.channel);
                self.post_card(round, r#ref, place.platform, place.workspace.as_deref(), to, None)
                    .await
            }
            Intent::DmCard { r#ref, to } => {
                self.post_card(
                    round,
                    r#ref,
                    to.platform,
                    to.workspace.as_deref(),
                    Target::User(&to.user),
                    None,
                )
                .await
            }
            Intent::Remind { r#ref, to } => {
                let view = self.view(round, r#ref)?;
                if view.status.is_final() {
                    return Ok(()); // decided since the reminder was queued
                }
                let text = format!(
                    "Reminder: {} ({}) from {} is still waiting for your approval; still needed: {}.",
                    view.r#ref,
                    view.workflow_title,
                    view.requester.name,
                    view.needed_summary()
                );
                self.post_card(
                    round,
                    r#ref,
                    to.platform,
                    to.workspace.as_deref(),
                    Target::User(&to.user),
                    Some(&text),
                )
                .await
            }
            Intent::DigestToChannel { digest, place, .. } => {
                self.digest(digest, place.platform, Target::Channel(&place.channel))
                    .await
            }
            Intent::DigestToUser { digest, to, .. } => self.digest(digest, to.platform, Target::User(&to.user)).await,
            Intent::UpdateCards { r#ref } => self.update_cards(round, r#ref).await,
            Intent::Confirm { r#ref, to } => self.confirm(round, r#ref, to).await,
            Intent::Ephemeral { place, user, text } => self.ephemeral(place, user, text).await,
            Intent::Webhook { r#ref, url, event } => match &self.webhooks {
                Some(w) => w.deliver(r#ref, url, event).await,
                None => Err(DeliveryError::Permanent(
                    "webhooks are not delivered by this process".into(),
                )),
            },
            Intent::InteractionReply { token, text } => {
                let message = json!({ "content": text, "allowed_mentions": { "parse": [] } });
                self.discord()?.edit_original(token, &message).await
            }
        }
    }
}
