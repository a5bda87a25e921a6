//! Slack as a [`ChatPlatform`]: what the outbox's messages become in Slack's Web API (cards
//! as Block Kit, direct messages by user id, ephemeral replies, digests).

use super::blocks::{self, card_blocks, escaped_section, ModalContext};
use super::SlackApi;
use crate::chat::address::{ChatPlace, ChatUser};
use crate::chat::platform::{ChatPlatform, Destination, Form, FormTrigger, Opened, Posted};
use crate::chat::render::Card;
use crate::digest::compose::Digest;
use crate::outbox::DeliveryError;
use async_trait::async_trait;
use slack_morphism::prelude::SlackBlock;

/// Slack posts to a user id as to a channel: the message lands in the bot's DM with them.
fn channel_of(to: Destination<'_>) -> &str {
    match to {
        Destination::Channel(place) => &place.channel,
        Destination::User(user) => &user.user,
    }
}

#[async_trait]
impl ChatPlatform for SlackApi {
    async fn post_card(
        &self,
        to: Destination<'_>,
        card: &Card,
        preface: Option<&str>,
    ) -> Result<Posted, DeliveryError> {
        let blocks: Vec<SlackBlock> = preface
            .map(escaped_section)
            .into_iter()
            .chain(card_blocks(card))
            .collect();
        let text = preface.map(str::to_owned).unwrap_or_else(|| card.notification());
        let posted = self.post_message(channel_of(to), &text, &blocks).await?;
        Ok(Posted {
            channel: posted.channel,
            message_id: posted.ts,
        })
    }

    async fn update_card(&self, copy: &Posted, card: &Card) -> Result<(), DeliveryError> {
        self.update(
            &copy.channel,
            &copy.message_id,
            &card.notification(),
            &card_blocks(card),
        )
        .await
    }

    async fn direct(&self, to: &ChatUser, text: &str) -> Result<(), DeliveryError> {
        self.post_message(&to.user, text, &[]).await.map(|_| ())
    }

    async fn ephemeral(&self, place: &ChatPlace, user: &str, text: &str) -> Result<(), DeliveryError> {
        // In a DM (or with no channel) an ephemeral message cannot be shown: send a DM.
        if place.channel == user || place.channel.starts_with('D') {
            return self.post_message(user, text, &[]).await.map(|_| ());
        }
        self.post_ephemeral(&place.channel, user, text).await
    }

    async fn post_digest(&self, to: Destination<'_>, digest: &Digest) -> Result<(), DeliveryError> {
        let text = crate::digest::render::text(digest);
        let title = text.lines().next().unwrap_or_default();
        let blocks = crate::digest::render::slack_blocks(digest);
        self.post_message(channel_of(to), title, &blocks).await.map(|_| ())
    }

    async fn open_form(&self, on: FormTrigger<'_>, form: Form<'_>) -> Result<Opened, DeliveryError> {
        let trigger = on.trigger_id.ok_or_else(|| {
            DeliveryError::Permanent("Slack opens a form only in answer to a click or a command".into())
        })?;
        let (subject, version) = match form {
            Form::NewRequest { workflow, .. } => (workflow.id.clone(), None),
            Form::RejectReason { r#ref, version } => (r#ref.to_owned(), version),
        };
        // Where the form's result goes, carried through Slack in the view's private metadata.
        let ctx = ModalContext {
            subject,
            version,
            channel: on.place.map(|p| p.channel.clone()),
            workspace: on.place.and_then(|p| p.workspace.clone()),
        };
        let view = match form {
            Form::NewRequest { workflow, given } => blocks::new_request_modal(workflow, given, &ctx),
            Form::RejectReason { .. } => blocks::reject_modal(&ctx),
        };
        self.open_view(trigger, view).await.map(|()| Opened::Shown)
    }

    async fn answer_later(&self, _token: &str, _text: &str) -> Result<(), DeliveryError> {
        // Slack's late answers go through `response_url`, which the handlers call themselves.
        Err(DeliveryError::Permanent(
            "Slack answers late through its response_url, not the outbox".into(),
        ))
    }
}
