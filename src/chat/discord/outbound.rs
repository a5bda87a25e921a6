//! Discord as a [`ChatPlatform`]: what the outbox's messages become in Discord's REST API (cards
//! as embeds with buttons, direct messages through a DM channel, digests as embeds).

use super::{components, responses, DiscordApi};
use crate::chat::address::{ChatPlace, ChatUser};
use crate::chat::platform::{ChatPlatform, Destination, Form, FormTrigger, Opened, Posted};
use crate::chat::render::Card;
use crate::digest::compose::Digest;
use crate::outbox::DeliveryError;
use async_trait::async_trait;
use serenity::builder::CreateMessage;

impl DiscordApi {
    /// The channel a destination means: a person's is their DM channel with the bot.
    async fn channel_of(&self, to: Destination<'_>) -> Result<String, DeliveryError> {
        match to {
            Destination::Channel(place) => Ok(place.channel.clone()),
            Destination::User(user) => self.dm_channel(&user.user).await,
        }
    }
}

#[async_trait]
impl ChatPlatform for DiscordApi {
    async fn post_card(
        &self,
        to: Destination<'_>,
        card: &Card,
        preface: Option<&str>,
    ) -> Result<Posted, DeliveryError> {
        let channel = self.channel_of(to).await?;
        let message_id = self
            .post_message(&channel, &components::card_message(card, preface))
            .await?;
        Ok(Posted { channel, message_id })
    }

    async fn update_card(&self, copy: &Posted, card: &Card) -> Result<(), DeliveryError> {
        let message = components::card_edit(card);
        self.edit_message(&copy.channel, &copy.message_id, &message).await
    }

    async fn direct(&self, to: &ChatUser, text: &str) -> Result<(), DeliveryError> {
        let channel = self.dm_channel(&to.user).await?;
        self.post_message(&channel, &components::text_message(text))
            .await
            .map(|_| ())
    }

    async fn ephemeral(&self, place: &ChatPlace, user: &str, text: &str) -> Result<(), DeliveryError> {
        // Discord shows ephemeral messages only as interaction answers: send a DM instead.
        let to = ChatUser {
            platform: place.platform,
            workspace: place.workspace.clone(),
            user: user.to_owned(),
        };
        self.direct(&to, text).await
    }

    async fn post_digest(&self, to: Destination<'_>, digest: &Digest) -> Result<(), DeliveryError> {
        let channel = self.channel_of(to).await?;
        let message = CreateMessage::new()
            .embeds(vec![crate::digest::render::discord_embed(digest)])
            .allowed_mentions(components::no_mentions());
        self.post_message(&channel, &message).await.map(|_| ())
    }

    async fn open_form(&self, _on: FormTrigger<'_>, form: Form<'_>) -> Result<Opened, DeliveryError> {
        // A Discord modal is the interaction's answer itself, sent back as the HTTP response.
        let modal = match form {
            Form::NewRequest { workflow, given } => responses::new_request_modal(workflow, given),
            Form::RejectReason { r#ref, version } => responses::reject_modal(&Form::reject_target(r#ref, version)),
        };
        serde_json::to_value(&modal)
            .map(Opened::Answer)
            .map_err(|e| DeliveryError::Permanent(format!("encoding a form: {e}")))
    }

    async fn answer_later(&self, token: &str, text: &str) -> Result<(), DeliveryError> {
        self.edit_original(token, &components::late_answer(text)).await
    }
}
