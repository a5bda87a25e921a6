//! Socket Mode: the same handlers over Slack's WebSocket, for installs that cannot expose a
//! public URL. slack-morphism keeps the connections; this module only translates its typed
//! events into the payloads the HTTP routes read, and the replies back into acknowledgements.
//! Socket Mode messages carry no signature: the WebSocket itself is authenticated.

use super::handlers::{SlackApp, SlackReply};
use super::inbound::{Interaction, SlashCommand};
use super::{commands, interactions};
use slack_morphism::prelude::*;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Connects with the app-level token (`xapp-...`) and serves until `stop` is cancelled, then
/// closes its connections.
pub fn spawn(tasks: &TaskTracker, app: Arc<SlackApp>, app_token: String, stop: CancellationToken) -> JoinHandle<()> {
    tasks.spawn(async move {
        if let Err(e) = run(app, app_token, stop).await {
            tracing::error!(error = %format!("{e:#}"), "Slack Socket Mode stopped; HTTP routes still serve");
        }
    })
}

async fn run(app: Arc<SlackApp>, app_token: String, stop: CancellationToken) -> anyhow::Result<()> {
    let client = Arc::new(SlackClient::new(SlackClientHyperConnector::new()?));
    let environment = Arc::new(SlackClientEventsListenerEnvironment::new(client).with_user_state(app));
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_interaction_events(on_interaction)
        .with_push_events(on_push);
    let listener = SlackClientSocketModeListener::new(&SlackClientSocketModeConfig::new(), environment, callbacks);
    let token = SlackApiToken::new(SlackApiTokenValue(app_token));
    tokio::select! {
        listening = listener.listen_for(&token) => listening?,
        _ = stop.cancelled() => return Ok(()),
    }
    listener.start().await;
    tracing::info!("Slack Socket Mode connected");
    stop.cancelled().await;
    listener.shutdown().await;
    Ok(())
}

async fn app_of(state: &SlackClientEventsUserState) -> Option<Arc<SlackApp>> {
    state.read().await.get_user_state::<Arc<SlackApp>>().cloned()
}

/// A Socket Mode command as the form fields the HTTP route reads.
pub fn command_from(event: &SlackCommandEvent) -> anyhow::Result<SlashCommand> {
    Ok(serde_json::from_value(serde_json::to_value(event)?)?)
}

/// A Socket Mode interaction as the payload the HTTP route reads.
pub fn payload_from(event: &SlackInteractionEvent) -> anyhow::Result<Interaction> {
    Ok(Interaction::from_json(&serde_json::to_value(event)?))
}

/// A reply as a command acknowledgement.
pub fn command_ack(reply: SlackReply) -> anyhow::Result<SlackCommandEventResponse> {
    Ok(match reply {
        SlackReply::Ack => SlackCommandEventResponse::new(SlackMessageContent::new()),
        SlackReply::Message(m) => m,
        // Only modal submissions answer with a view response, never a command.
        SlackReply::View(_) => SlackCommandEventResponse::new(SlackMessageContent::new()),
    })
}

/// A reply as an interaction acknowledgement (modal errors included).
pub fn interaction_ack(reply: SlackReply) -> anyhow::Result<SlackInteractionResponse> {
    Ok(match reply {
        SlackReply::Ack => SlackInteractionResponse::Empty,
        SlackReply::View(v) => SlackInteractionResponse::ViewSubmission(v),
        SlackReply::Message(_) => SlackInteractionResponse::Empty,
    })
}

fn boxed(e: anyhow::Error) -> Box<dyn std::error::Error + Send + Sync> {
    e.to_string().into()
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let app = app_of(&state).await.ok_or("Socket Mode has no app state")?;
    let cmd = command_from(&event).map_err(boxed)?;
    let correlation = format!("slack-socket-{}", event.trigger_id);
    command_ack(commands::answer(&app, cmd, correlation).await).map_err(boxed)
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let app = app_of(&state).await.ok_or("Socket Mode has no app state")?;
    let payload = payload_from(&event).map_err(boxed)?;
    let correlation = format!("slack-socket-{}", payload.trigger_id.get().unwrap_or("interaction"));
    interaction_ack(interactions::answer(&app, payload, correlation).await).map_err(boxed)
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    _state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    tracing::info!(event = ?std::mem::discriminant(&event.event), "Slack event acknowledged and ignored");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::slack::inbound;
    use serde_json::json;

    #[test]
    fn a_socket_mode_command_reads_like_the_http_form() {
        let event: SlackCommandEvent = serde_json::from_value(json!({
            "team_id": "T0001", "channel_id": "C0FIN", "user_id": "U0ALICE", "command": "/approval",
            "text": "new invoice amount=5 vendor=X", "response_url": "https://hooks.slack.test/1", "trigger_id": "1.2.3"
        }))
        .unwrap();
        let cmd = command_from(&event).unwrap();
        assert_eq!(cmd.team_id.as_deref(), Some("T0001"));
        assert_eq!(cmd.user_id.as_deref(), Some("U0ALICE"));
        assert_eq!(cmd.text, "new invoice amount=5 vendor=X");
        assert_eq!(cmd.trigger_id.as_deref(), Some("1.2.3"));
    }

    #[test]
    fn a_socket_mode_button_press_reads_like_the_http_payload() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/conformance/slack/block_actions_1.json"
        );
        let raw: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let event: SlackInteractionEvent = serde_json::from_value(raw.clone()).unwrap();
        let payload = payload_from(&event).unwrap();
        let raw = inbound::Interaction::from_json(&raw);
        assert_eq!(inbound::who(&payload), inbound::who(&raw));
        assert_eq!(inbound::presses(&payload), inbound::presses(&raw));
    }

    #[test]
    fn modal_errors_become_a_view_submission_acknowledgement() {
        let reply = SlackReply::View(crate::chat::slack::blocks::field_errors(&[(
            "amount".into(),
            "too many decimals".into(),
        )]));
        let ack = interaction_ack(reply).unwrap();
        assert!(matches!(ack, SlackInteractionResponse::ViewSubmission(_)));
        let ephemeral = crate::chat::slack::handlers::ephemeral("Request INV-1 opened.", None);
        let ack = command_ack(ephemeral).unwrap();
        assert_eq!(ack.content.text.as_deref(), Some("Request INV-1 opened."));
    }
}
