//! The one seam between Countersign and a chat platform: what a platform does with the messages
//! the outbox delivers. Slack, Discord and the console each implement [`ChatPlatform`] once;
//! delivery holds one implementation per [`Platform`] and never asks which one it holds.

use super::address::{ChatPlace, ChatUser, Platform};
use super::render::Card;
use crate::digest::compose::Digest;
use crate::outbox::DeliveryError;
use crate::policy::Workflow;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Where a card or a digest goes: a channel, or a person's direct messages.
#[derive(Clone, Copy, Debug)]
pub enum Destination<'a> {
    /// A channel.
    Channel(&'a ChatPlace),
    /// A person, privately.
    User(&'a ChatUser),
}

impl Destination<'_> {
    /// The platform the destination is on.
    pub fn platform(&self) -> Platform {
        match self {
            Destination::Channel(place) => place.platform,
            Destination::User(user) => user.platform,
        }
    }

    /// The workspace the destination is in, on platforms that have them.
    pub fn workspace(&self) -> Option<&str> {
        match self {
            Destination::Channel(place) => place.workspace.as_deref(),
            Destination::User(user) => user.workspace.as_deref(),
        }
    }
}

/// A posted message, as the platform identifies it: enough to edit it later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    /// The channel (a DM's channel for a direct message).
    pub channel: String,
    /// The platform's message id (Slack's `ts`, Discord's snowflake).
    pub message_id: String,
}

/// A form a person fills in, in answer to what they just did.
#[derive(Clone, Copy, Debug)]
pub enum Form<'a> {
    /// The fields of a new request of `workflow`, prefilled with what was typed.
    NewRequest {
        /// The workflow.
        workflow: &'a Workflow,
        /// What was typed already (`name`, `value`).
        given: &'a [(String, String)],
    },
    /// Why a request is rejected, bound to the version its card showed.
    RejectReason {
        /// The request.
        r#ref: &'a str,
        /// The version on the card (`None`: the current one).
        version: Option<i32>,
    },
}

impl Form<'_> {
    /// `REF@VERSION` (or the bare ref) of a reject form: what its submission votes on.
    pub fn reject_target(r#ref: &str, version: Option<i32>) -> String {
        match version {
            Some(v) => format!("{ref}@{v}"),
            None => r#ref.to_owned(),
        }
    }
}

/// The interaction a form answers.
#[derive(Clone, Copy, Debug, Default)]
pub struct FormTrigger<'a> {
    /// The platform's handle for answering it with a form (Slack's `trigger_id`, valid for 3
    /// seconds); platforms whose forms are the interaction's answer need none.
    pub trigger_id: Option<&'a str>,
    /// Where the command or the card was.
    pub place: Option<&'a ChatPlace>,
}

/// How a platform opened a form.
#[derive(Clone, Debug, PartialEq)]
pub enum Opened {
    /// It is on the person's screen (Slack opens it through its API).
    Shown,
    /// It is the answer to the interaction, to send back as the HTTP response (Discord).
    Answer(serde_json::Value),
}

/// What a chat platform does for Countersign. Every method is one delivery of the outbox:
/// transient failures are retried by the worker, permanent ones dead-lettered.
#[async_trait]
pub trait ChatPlatform: Send + Sync + fmt::Debug {
    /// Posts a request's card (under a line of text, when given); returns the copy so the card
    /// can be brought up to date with the request.
    async fn post_card(&self, to: Destination<'_>, card: &Card, preface: Option<&str>)
        -> Result<Posted, DeliveryError>;

    /// Replaces a posted copy of a card with its current state.
    async fn update_card(&self, copy: &Posted, card: &Card) -> Result<(), DeliveryError>;

    /// A private message of plain text.
    async fn direct(&self, to: &ChatUser, text: &str) -> Result<(), DeliveryError>;

    /// A reply only `user` sees, in `place` (a direct message where the platform cannot).
    async fn ephemeral(&self, place: &ChatPlace, user: &str, text: &str) -> Result<(), DeliveryError>;

    /// An owner's health digest.
    async fn post_digest(&self, to: Destination<'_>, digest: &Digest) -> Result<(), DeliveryError>;

    /// Opens `form` for the person who just clicked or typed, in answer to `on`.
    async fn open_form(&self, on: FormTrigger<'_>, form: Form<'_>) -> Result<Opened, DeliveryError>;

    /// The late answer to an interaction that was acknowledged before its work was done
    /// (`token` is what the platform gave to answer it later).
    async fn answer_later(&self, token: &str, text: &str) -> Result<(), DeliveryError>;
}

/// The platforms a process delivers to, one implementation each.
#[derive(Clone, Debug, Default)]
pub struct Platforms {
    by_platform: BTreeMap<Platform, Arc<dyn ChatPlatform>>,
}

impl Platforms {
    /// No platform: every chat message is dead-lettered as not configured.
    pub fn none() -> Self {
        Self::default()
    }

    /// Delivers `platform`'s messages through `implementation`.
    pub fn with(mut self, platform: Platform, implementation: Arc<dyn ChatPlatform>) -> Self {
        self.by_platform.insert(platform, implementation);
        self
    }

    /// The implementation for `platform`; a permanent failure when this process has none.
    pub fn get(&self, platform: Platform) -> Result<&dyn ChatPlatform, DeliveryError> {
        self.by_platform.get(&platform).map(|p| p.as_ref()).ok_or_else(|| {
            DeliveryError::Permanent(format!(
                "{platform} is not configured in this process (its bot token is not set)"
            ))
        })
    }

    /// The platforms configured, in [`Platform::ALL`] order.
    pub fn configured(&self) -> Vec<Platform> {
        self.by_platform.keys().copied().collect()
    }
}
