//! Gateway mode: interactions arrive over Discord's WebSocket (serenity) instead of the HTTP
//! endpoint, and go through the same handler. Only one replica may hold the gateway: it takes
//! a Postgres advisory lock first and keeps it for as long as it is connected.

use super::handlers::{answer, DiscordApp};
use serenity::all::{Context as SerenityContext, EventHandler, GatewayIntents, Interaction};
use serenity::async_trait;
use serenity::Client;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The advisory lock key that makes the gateway a singleton across replicas ("CSGATE").
const GATEWAY_LOCK: i64 = 0x4353_4741_5445;

struct Handler {
    app: Arc<DiscordApp>,
}

/// A gateway interaction as the JSON the HTTP endpoint reads.
pub fn payload_of(interaction: &Interaction) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(interaction)?)
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

/// Waits for the gateway lock, then connects; retries after any disconnection.
pub fn spawn(app: Arc<DiscordApp>, token: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = hold_and_run(&app, &token).await {
                tracing::warn!(error = %format!("{e:#}"), "Discord gateway stopped; retrying in 10 seconds");
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    })
}

async fn hold_and_run(app: &Arc<DiscordApp>, token: &str) -> anyhow::Result<()> {
    let mut conn = app.engine.pool().acquire().await?;
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(GATEWAY_LOCK)
            .fetch_one(&mut *conn)
            .await?;
        if got {
            break;
        }
        tracing::debug!("another replica holds the Discord gateway");
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    tracing::info!("this replica holds the Discord gateway");
    let mut client = Client::builder(token, GatewayIntents::GUILDS | GatewayIntents::DIRECT_MESSAGES)
        .event_handler(Handler { app: app.clone() })
        .await?;
    let result = client.start().await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(GATEWAY_LOCK)
        .execute(&mut *conn)
        .await;
    Ok(result?)
}
