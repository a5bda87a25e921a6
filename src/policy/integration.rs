//! What the policy says about other systems: service accounts (people.toml `[[service]]`), the
//! chat channels a workflow announces requests in when no chat channel started them
//! (`[announce]`), and the webhooks its decision receipts go to (`[[webhook]]`).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::chat::address::ChatPlace;
use crate::policy::model::{PersonId, Role};

/// One `[[service]]` of people.toml: another system that calls the HTTP API.
///
/// A service holds roles like a person, so it may open requests and read what its roles allow,
/// but it never approves: approval groups draw only on people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// The id a token names in `sub`; distinct from every person's id.
    pub id: PersonId,
    /// Display name, e.g. "Deploy pipeline" (the id when not given).
    pub name: String,
    /// Roles the service holds.
    pub roles: BTreeSet<Role>,
}

/// `[announce]` of a workflow: where cards of requests opened outside chat (by the API) go.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announce {
    /// The channels, one per platform at most (`slack_channel = "T0001/C0FINANCE"`,
    /// `discord_channel = "123..."`), in [`crate::chat::address::Platform::ALL`] order.
    pub channels: Vec<ChatPlace>,
}

/// A final state a webhook can subscribe to, named as in the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// `request.approved`.
    #[serde(rename = "request.approved")]
    Approved,
    /// `request.rejected`.
    #[serde(rename = "request.rejected")]
    Rejected,
    /// `request.cancelled`.
    #[serde(rename = "request.cancelled")]
    Cancelled,
    /// `request.expired`.
    #[serde(rename = "request.expired")]
    Expired,
    /// `audit.checkpoint`: each signed checkpoint of the audit chain's head (not about one
    /// request; a receiver listed by several workflows gets each checkpoint once).
    #[serde(rename = "audit.checkpoint")]
    Checkpoint,
}

impl WebhookEvent {
    /// Every event, in a stable order.
    pub const ALL: [WebhookEvent; 5] = [
        WebhookEvent::Approved,
        WebhookEvent::Rejected,
        WebhookEvent::Cancelled,
        WebhookEvent::Expired,
        WebhookEvent::Checkpoint,
    ];

    /// The event's name, as in the audit log's action vocabulary.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::Approved => "request.approved",
            WebhookEvent::Rejected => "request.rejected",
            WebhookEvent::Cancelled => "request.cancelled",
            WebhookEvent::Expired => "request.expired",
            WebhookEvent::Checkpoint => "audit.checkpoint",
        }
    }

    /// Parses an event name.
    pub fn parse(s: &str) -> Option<WebhookEvent> {
        WebhookEvent::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

impl fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[webhook]]` of a workflow: a URL that receives the signed receipt of each final state
/// it subscribes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Where receipts are POSTed: an `https://` or `http://` URL.
    pub url: String,
    /// The final states it receives.
    pub events: BTreeSet<WebhookEvent>,
}
