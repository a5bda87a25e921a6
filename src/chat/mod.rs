//! Platform-neutral chat: the command grammar, the neutral card model, and the adapters that
//! speak them (the console today; Slack and Discord plug into the same pieces).

pub mod adapters;
pub mod address;
pub mod command;
pub mod console;
pub mod delivery;
pub mod demo;
pub mod discord;
pub mod dispatch;
pub mod platform;
pub mod render;
pub mod signature;
pub mod slack;
