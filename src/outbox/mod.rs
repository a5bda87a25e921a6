//! The durable outbox: every outgoing chat message is a row written in the same transaction as
//! the change that caused it, and a worker delivers it with retries, backoff and dead-lettering.
//! A confirmation is never lost because a platform was slow or down.

mod claim;
mod doorbell;
mod holding;
mod worker;

pub use doorbell::{Doorbell, Queued};
pub use worker::{Completions, Deliverer, DeliveryError, Job, OutboxConfig, Worker};

use crate::chat::address::{ChatPlace, ChatUser, Platform};
use crate::store::effects::MessageRow;
use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What to send. Platform-neutral: cards are rendered at delivery time from the request's
/// current state, so a late delivery never shows a stale card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Intent {
    /// Post the request's card in a channel (where it was asked for).
    PostCard {
        /// The request.
        r#ref: String,
        /// Where.
        place: ChatPlace,
    },
    /// Send the card privately to an approver.
    DmCard {
        /// The request.
        r#ref: String,
        /// To whom.
        to: ChatUser,
    },
    /// Bring every posted copy of the card up to date.
    UpdateCards {
        /// The request.
        r#ref: String,
    },
    /// Tell the requester the final state.
    Confirm {
        /// The request.
        r#ref: String,
        /// The requester.
        to: ChatUser,
    },
    /// Remind an approver who has not voted on a pending request.
    Remind {
        /// The request.
        r#ref: String,
        /// The approver.
        to: ChatUser,
    },
    /// An owner's digest, to a channel.
    DigestToChannel {
        /// The owner team.
        team: String,
        /// The composed digest (rendered per platform at delivery).
        digest: serde_json::Value,
        /// Where.
        place: ChatPlace,
    },
    /// An owner's digest, privately to a member.
    DigestToUser {
        /// The owner team.
        team: String,
        /// The composed digest.
        digest: serde_json::Value,
        /// To whom.
        to: ChatUser,
    },
    /// The late answer to an interaction that was acknowledged before its work was done
    /// (Discord: edits its original reply).
    InteractionReply {
        /// The platform of the interaction (messages queued before it was recorded: Discord).
        #[serde(default = "discord")]
        platform: Platform,
        /// The token that answers the interaction (Discord's is valid for 15 minutes).
        token: String,
        /// What to say.
        text: String,
    },
    /// POST the decision receipt of a request's final state to a webhook.
    Webhook {
        /// The request.
        r#ref: String,
        /// The receiver.
        url: String,
        /// The final state's event, e.g. `request.approved`.
        event: String,
    },
    /// POST a signed checkpoint of the audit chain to a webhook subscribed to `audit.checkpoint`.
    Checkpoint {
        /// The chain position it signs (the checkpoint is read back by it).
        seq: i64,
        /// The receiver.
        url: String,
    },
    /// Run the effect of an approved version on its target (exactly once: the target's ledger).
    /// Not ordered with the request's chat messages: a platform outage never holds it back.
    Effect {
        /// The request.
        r#ref: String,
        /// The approved version.
        version: i32,
    },
    /// A private reply to one person in a channel (a refused click, details).
    Ephemeral {
        /// Where.
        place: ChatPlace,
        /// The platform user id.
        user: String,
        /// What to say.
        text: String,
    },
}

/// Interaction answers were Discord's only before they named their platform.
fn discord() -> Platform {
    Platform::Discord
}

impl Intent {
    /// The request it concerns: messages about one request are delivered in order.
    pub fn r#ref(&self) -> Option<&str> {
        match self {
            Intent::PostCard { r#ref, .. }
            | Intent::DmCard { r#ref, .. }
            | Intent::UpdateCards { r#ref }
            | Intent::Confirm { r#ref, .. }
            | Intent::Remind { r#ref, .. }
            | Intent::Webhook { r#ref, .. } => Some(r#ref),
            Intent::Ephemeral { .. }
            | Intent::Checkpoint { .. }
            | Intent::Effect { .. }
            | Intent::InteractionReply { .. }
            | Intent::DigestToChannel { .. }
            | Intent::DigestToUser { .. } => None,
        }
    }

    /// Every kind [`Intent::kind`] returns, so that each one's delivery counters exist from
    /// the start.
    pub const KINDS: [&'static str; 12] = [
        "post_card",
        "dm_card",
        "update_cards",
        "confirm",
        "interaction_reply",
        "remind",
        "digest_to_channel",
        "digest_to_user",
        "ephemeral",
        "webhook",
        "checkpoint",
        "effect",
    ];

    /// The intent's kind, for logs and the audit log (which never see its tokens or text).
    pub fn kind(&self) -> &'static str {
        match self {
            Intent::PostCard { .. } => "post_card",
            Intent::DmCard { .. } => "dm_card",
            Intent::UpdateCards { .. } => "update_cards",
            Intent::Confirm { .. } => "confirm",
            Intent::InteractionReply { .. } => "interaction_reply",
            Intent::Remind { .. } => "remind",
            Intent::DigestToChannel { .. } => "digest_to_channel",
            Intent::DigestToUser { .. } => "digest_to_user",
            Intent::Ephemeral { .. } => "ephemeral",
            Intent::Webhook { .. } => "webhook",
            Intent::Checkpoint { .. } => "checkpoint",
            Intent::Effect { .. } => "effect",
        }
    }
}

/// Messages `ids` as they were queued, in id order, without claiming them: what the outbox
/// would deliver (the console shows them; a running server still delivers them).
pub async fn queued(pool: &sqlx::PgPool, ids: &[i64]) -> anyhow::Result<Vec<Job>> {
    Ok(claim::peek(pool, ids).await?.jobs)
}

impl Intent {
    /// The message as the columns it is queued in.
    pub fn row(&self) -> anyhow::Result<MessageRow> {
        Ok(MessageRow {
            r#ref: self.r#ref().map(str::to_owned),
            intent: serde_json::to_value(self).context("encoding an outgoing message")?,
        })
    }
}
