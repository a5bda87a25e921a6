//! Gateway mode: interactions arrive over Discord's WebSocket (serenity) instead of the HTTP
//! endpoint, and go through the same handler. Only one replica may hold the gateway: it takes
//! a Postgres advisory lock first and keeps it for as long as it is connected.

use super::handlers::{answer, DiscordApp};
use crate::store::locks::{self, Lock};
use serenity::all::{Context as SerenityContext, EventHandler, GatewayIntents, Interaction};
use serenity::async_trait;
use serenity::Client;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

struct Handler {
    app: Arc<DiscordApp>,
}

/// A gateway interaction as the JSON the HTTP endpoint reads.
pub fn payload_of(interaction: &Interaction) -> anyhow::Result<serde_json::Value> {
    let mut payload = serde_json::to_value(interaction)?;
    // serenity keeps the type in the enum variant, not in the serialised struct.
    let kind = match interaction {
        Interaction::Ping(_) => super::inbound::PING,
        Interaction::Command(_) => super::inbound::APPLICATION_COMMAND,
        Interaction::Component(_) => super::inbound::MESSAGE_COMPONENT,
        Interaction::Autocomplete(_) => super::inbound::AUTOCOMPLETE,
        Interaction::Modal(_) => super::inbound::MODAL_SUBMIT,
        _ => 0,
    };
    if let Some(obj) = payload.as_object_mut() {
        obj.insert("type".into(), kind.into());
    }
    Ok(payload)
}

#[async_trait]
impl EventHandler for Handler {
    async fn interaction_create(&self, _ctx: SerenityContext, interaction: Interaction) {
        let payload = match payload_of(&interaction) {
            Ok(p) => p,
            Err(e) => return tracing::warn!(error = %e, "an unreadable gateway interaction was ignored"),
        };
        let (Some(id), Some(token)) = super::inbound::id_and_token(&payload) else {
            return;
        };
        let response = answer(&self.app, payload).await;
        if let Err(e) = self.app.api.interaction_callback(&id, &token, &response).await {
            tracing::warn!(error = %e, "could not answer a gateway interaction");
        }
    }
}

/// Waits for the gateway lock, then connects; retries after any disconnection, until `stop` is
/// cancelled.
pub fn spawn(tasks: &TaskTracker, app: Arc<DiscordApp>, token: String, stop: CancellationToken) -> JoinHandle<()> {
    tasks.spawn(async move {
        while !stop.is_cancelled() {
            if let Err(e) = hold_and_run(&app, &token, &stop).await {
                tracing::warn!(error = %format!("{e:#}"), "Discord gateway stopped; retrying in 10 seconds");
            }
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_secs(10)) => {}
            }
        }
    })
}

async fn hold_and_run(app: &Arc<DiscordApp>, token: &str, stop: &CancellationToken) -> anyhow::Result<()> {
    let held = loop {
        if let Some(held) = locks::try_hold(app.engine.pool(), Lock::DiscordGateway).await? {
            break held;
        }
        tracing::debug!("another replica holds the Discord gateway");
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
    };
    tracing::info!("this replica holds the Discord gateway");
    let mut client = Client::builder(token, GatewayIntents::GUILDS | GatewayIntents::DIRECT_MESSAGES)
        .event_handler(Handler { app: app.clone() })
        .await?;
    let shards = client.shard_manager.clone();
    // The shards are told to close, so that the lock below is released only once this replica
    // no longer answers interactions.
    let result = tokio::select! {
        r = client.start() => r,
        _ = stop.cancelled() => {
            shards.shutdown_all().await;
            Ok(())
        }
    };
    let _ = held.release_now().await;
    Ok(result?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::discord::inbound;
    use serde_json::Value;

    /// The fields today's gateway sends and serenity's model requires, which the older corpus
    /// captures lack.
    fn as_sent_today(mut raw: Value) -> Value {
        raw["flags"] = 0.into();
        raw["entitlements"] = serde_json::json!([]);
        raw["authorizing_integration_owners"] = serde_json::json!({});
        raw["app_permissions"] = "0".into();
        raw["attachment_size_limit"] = 10_485_760.into();
        raw["context"] = 0.into();
        if raw["member"].is_object() {
            raw["member"]["flags"] = 0.into();
            raw["member"]["user"]["flags"] = 0.into();
            raw["user"] = raw["member"]["user"].clone();
        } else if raw["user"].is_object() {
            raw["user"]["flags"] = 0.into();
        }
        raw
    }

    #[test]
    fn a_gateway_interaction_reads_like_the_http_one() {
        let dir = format!("{}/tests/fixtures/conformance/discord", env!("CARGO_MANIFEST_DIR"));
        let mut kinds = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".json") || name == "index.json" || name == "signatures.json" {
                continue;
            }
            let raw = as_sent_today(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
            let Ok(interaction) = serde_json::from_value::<Interaction>(raw.clone()) else {
                continue;
            };
            let payload = payload_of(&interaction).unwrap();
            assert_eq!(inbound::kind(&payload), inbound::kind(&raw), "{name}");
            kinds.insert(inbound::kind(&raw));
            if inbound::kind(&raw) == inbound::PING {
                continue; // serenity keeps no user on a PING, and a PING needs none.
            }
            assert_eq!(inbound::user_id(&payload), inbound::user_id(&raw), "{name}");
            assert_eq!(inbound::channel_id(&payload), inbound::channel_id(&raw), "{name}");
            assert_eq!(inbound::id_and_token(&payload), inbound::id_and_token(&raw), "{name}");
            assert_eq!(inbound::custom_id(&payload), inbound::custom_id(&raw), "{name}");
            assert_eq!(inbound::modal_values(&payload), inbound::modal_values(&raw), "{name}");
            assert_eq!(inbound::subcommand(&payload), inbound::subcommand(&raw), "{name}");
        }
        assert!(
            kinds.contains(&inbound::APPLICATION_COMMAND),
            "no command parsed as a serenity interaction: {kinds:?}"
        );
    }
}
