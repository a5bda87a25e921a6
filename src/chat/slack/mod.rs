//! The Slack adapter: signed inbound routes (commands, interactivity, events), Block Kit cards
//! and modals, the Web API client, and Socket Mode. It translates; the rules live in the engine.

mod adapter;
pub mod api;
pub mod blocks;
mod commands;
pub mod handlers;
pub mod inbound;
mod interactions;
mod outbound;
pub mod socket;
mod verified;
pub mod verify;

pub use adapter::adapter;
pub use api::SlackApi;
pub use verified::VerifiedSlackRequest;
pub use verify::SlackVerifier;
