//! The Discord adapter: the signed interactions endpoint, slash commands with typed options,
//! embeds with buttons, modals, the REST client, command registration and the gateway. It
//! translates; the rules live in the engine.

mod adapter;
pub mod api;
mod commands;
pub mod components;
pub mod gateway;
pub mod handlers;
pub mod inbound;
mod outbound;
mod responses;
pub mod signed;
pub mod verify;

pub use adapter::adapter;
pub use api::DiscordApi;
pub use verify::DiscordVerifier;
