//! Registration: the one list of the chat platforms a server can run. Each adapter gives the
//! server the client the outbox delivers through, and starts its inbound side (signed routes,
//! and a connection of its own where the platform has one) once the engine rings the outbox.
//! A new platform is its folder under `chat/` and one line in [`configured`].

use super::address::Platform;
use super::platform::{ChatPlatform, Platforms};
use crate::clock::Clock;
use crate::engine::Engine;
use crate::server::ServeSettings;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What an adapter starts its inbound side with.
pub struct Start<'a> {
    /// The engine, ringing the outbox worker of this server.
    pub engine: &'a Engine,
    /// The clock (signature timestamps are checked against it).
    pub clock: Arc<dyn Clock>,
    /// Where background tasks run.
    pub tasks: &'a TaskTracker,
    /// Cancelled when the server stops.
    pub stop: &'a CancellationToken,
    /// How long a handler may work before it acknowledges.
    pub ack_budget: Duration,
}

/// One configured chat platform.
pub trait Adapter: Send {
    /// Which platform.
    fn platform(&self) -> Platform;

    /// The client the outbox delivers this platform's messages through.
    fn delivery(&self) -> Arc<dyn ChatPlatform>;

    /// Starts the inbound side; returns its routes.
    fn start(self: Box<Self>, start: &Start<'_>) -> anyhow::Result<Router>;
}

/// Every platform `settings` configures (those without settings are left out).
pub fn configured(settings: &ServeSettings) -> anyhow::Result<Vec<Box<dyn Adapter>>> {
    let mut adapters = Vec::new();
    adapters.extend(super::slack::adapter(settings)?);
    adapters.extend(super::discord::adapter(settings)?);
    Ok(adapters)
}

/// The delivery clients of `adapters`, one per platform.
pub fn platforms(adapters: &[Box<dyn Adapter>]) -> Platforms {
    adapters
        .iter()
        .fold(Platforms::none(), |all, a| all.with(a.platform(), a.delivery()))
}
