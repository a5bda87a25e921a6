//! Slack's registration: the Web API client the outbox delivers through, the signed routes, and
//! Socket Mode when an app-level token is set.

use super::handlers::{router, SlackApp};
use super::{SlackApi, SlackVerifier};
use crate::chat::adapters::{Adapter, Start};
use crate::chat::address::Platform;
use crate::chat::platform::ChatPlatform;
use crate::server::{ServeSettings, SlackSettings};
use axum::Router;
use secrecy::ExposeSecret;
use std::sync::Arc;

struct Slack {
    settings: SlackSettings,
    api: SlackApi,
}

/// Slack, when `settings` configure it.
pub fn adapter(settings: &ServeSettings) -> anyhow::Result<Option<Box<dyn Adapter>>> {
    let Some(s) = &settings.slack else {
        return Ok(None);
    };
    // Each call ends well within the delivery deadline, so a round is never cut short by one
    // slow answer.
    let api = SlackApi::new(&s.api_url, s.bot_token.expose_secret())?.with_timeout(settings.outbox.deadline / 3);
    Ok(Some(Box::new(Slack {
        settings: s.clone(),
        api,
    })))
}

impl Adapter for Slack {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    fn delivery(&self) -> Arc<dyn ChatPlatform> {
        Arc::new(self.api.clone())
    }

    fn start(self: Box<Self>, start: &Start<'_>) -> anyhow::Result<Router> {
        // The verifier keeps its own copy; exposed here, where it is handed over.
        let secrets: Vec<String> = self
            .settings
            .signing_secrets
            .iter()
            .map(|s| s.expose_secret().to_owned())
            .collect();
        let app = Arc::new(SlackApp {
            engine: start.engine.clone(),
            verifier: SlackVerifier::new(&secrets, start.clock.clone()),
            api: self.api,
            ack_budget: start.ack_budget,
        });
        if let Some(token) = &self.settings.app_token {
            super::socket::spawn(
                start.tasks,
                app.clone(),
                token.expose_secret().to_owned(),
                start.stop.child_token(),
            );
        }
        Ok(router(app))
    }
}
