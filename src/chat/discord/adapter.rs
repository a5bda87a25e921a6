//! Discord's registration: the REST client the outbox delivers through, the signed interactions
//! route, and the gateway when asked for.

use super::handlers::{router, DiscordApp};
use super::{DiscordApi, DiscordVerifier};
use crate::chat::adapters::{Adapter, Start};
use crate::chat::address::Platform;
use crate::chat::platform::ChatPlatform;
use crate::server::{DiscordSettings, ServeSettings};
use axum::Router;
use secrecy::ExposeSecret;
use std::sync::Arc;

struct Discord {
    settings: DiscordSettings,
    api: DiscordApi,
}

/// Discord, when `settings` configure it.
pub fn adapter(settings: &ServeSettings) -> anyhow::Result<Option<Box<dyn Adapter>>> {
    let Some(d) = &settings.discord else {
        return Ok(None);
    };
    let api = DiscordApi::new(&d.api_base, d.bot_token.expose_secret(), &d.application_id)?;
    Ok(Some(Box::new(Discord {
        settings: d.clone(),
        api,
    })))
}

impl Adapter for Discord {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    fn delivery(&self) -> Arc<dyn ChatPlatform> {
        Arc::new(self.api.clone())
    }

    fn start(self: Box<Self>, start: &Start<'_>) -> anyhow::Result<Router> {
        let app = Arc::new(DiscordApp {
            engine: start.engine.clone(),
            verifier: DiscordVerifier::new(&self.settings.public_key, start.clock.clone())?,
            api: self.api,
            ack_budget: start.ack_budget,
        });
        if self.settings.gateway {
            super::gateway::spawn(
                start.tasks,
                app.clone(),
                self.settings.bot_token.expose_secret().to_owned(),
                start.stop.child_token(),
            );
        }
        Ok(router(app))
    }
}
