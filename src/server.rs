//! `countersign serve`: the HTTP routes (platforms, the API, health), the outbox worker, the
//! audit sealer and the scheduler, started together and stopped together.

use crate::api::webhook::WebhookSender;
use crate::api::{ApiApp, ApiAuth, ReceiptSigner};
use crate::chat::address::Platform;
use crate::chat::delivery::ChatDeliverer;
use crate::chat::discord::handlers::DiscordApp;
use crate::chat::discord::{DiscordApi, DiscordVerifier};
use crate::chat::platform::Platforms;
use crate::chat::slack::handlers::SlackApp;
use crate::chat::slack::{SlackApi, SlackVerifier};
use crate::digest::scheduler::Scheduler;
use crate::engine::Engine;
use crate::http::{self, Health};
use crate::outbox::{OutboxConfig, Worker};
use crate::{audit, clock::Clock};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Slack settings (from `SLACK_*`).
#[derive(Clone)]
pub struct SlackSettings {
    /// Signing secrets; two during a rotation.
    pub signing_secrets: Vec<SecretString>,
    /// `xoxb-...`.
    pub bot_token: SecretString,
    /// `xapp-...`: Socket Mode when present.
    pub app_token: Option<SecretString>,
    /// The Web API base URL.
    pub api_url: String,
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field(
                "signing_secrets",
                &format_args!("{} hidden", self.signing_secrets.len()),
            )
            .field("bot_token", &"hidden")
            .field("socket_mode", &self.app_token.is_some())
            .field("api_url", &self.api_url)
            .finish()
    }
}

/// Discord settings (from `DISCORD_*`).
#[derive(Clone)]
pub struct DiscordSettings {
    /// The application's Ed25519 public key, hex.
    pub public_key: String,
    /// The application id.
    pub application_id: String,
    /// The bot token.
    pub bot_token: SecretString,
    /// The API base URL (`https://discord.com`).
    pub api_base: String,
    /// Also connect to the gateway (one replica at a time).
    pub gateway: bool,
}

impl std::fmt::Debug for DiscordSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordSettings")
            .field("application_id", &self.application_id)
            .field("bot_token", &"hidden")
            .field("api_base", &self.api_base)
            .field("gateway", &self.gateway)
            .finish()
    }
}

/// Writes the counts of the unauthenticated refusals that were not recorded one by one, once
/// their minute is over, even when no further refusal comes to trigger it.
fn spawn_refusal_counts(engine: Engine, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = engine.flush_refusal_counts().await {
                tracing::warn!(error = %format!("{e:#}"), "could not record refusal counts; will retry");
            }
        }
    })
}

/// Everything `serve` needs besides the engine.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Slack, when configured.
    pub slack: Option<SlackSettings>,
    /// Discord, when configured.
    pub discord: Option<DiscordSettings>,
    /// Outbox tuning.
    pub outbox: OutboxConfig,
    /// How often the sealer and the expiry sweep run.
    pub seal_every: Duration,
    /// How often the scheduler runs (expiry, reminders, digests).
    pub tick_every: Duration,
    /// How long a handler may work before it acknowledges (Slack's limit is 3 seconds).
    pub ack_budget: Duration,
    /// The HTTP API's keys (none: every API call is refused as unauthenticated).
    pub api: ApiSettings,
}

/// The HTTP API's settings (from `COUNTERSIGN_API_*` and `COUNTERSIGN_RECEIPT_KEY`).
#[derive(Clone, Debug, Default)]
pub struct ApiSettings {
    /// The keys API tokens may be signed with.
    pub auth: ApiAuth,
    /// The key that signs decision receipts.
    pub receipts: Option<ReceiptSigner>,
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    accepting: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
    http: JoinHandle<std::io::Result<()>>,
    engine: Engine,
}

impl Running {
    /// Turns /readyz false, waits `drain` so load balancers stop sending, stops taking requests,
    /// finishes those in flight and the outbox round in hand, then returns.
    pub async fn shutdown_after(self, drain: Duration) {
        self.accepting.store(false, Ordering::SeqCst);
        tokio::time::sleep(drain).await;
        self.shutdown().await;
    }

    /// Stops taking requests, finishes those in flight and the outbox round in hand, then returns.
    pub async fn shutdown(self) {
        self.accepting.store(false, Ordering::SeqCst);
        let _ = self.stop.send(true);
        let _ = self.http.await;
        let mut tasks = self.tasks.into_iter();
        // The outbox worker finishes its round; the sealer and the sweep hold nothing in flight.
        if let Some(worker) = tasks.next() {
            let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
        }
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
        // A minute of counted refusals still open is recorded now rather than lost.
        if let Err(e) = self.engine.flush_all_refusal_counts().await {
            tracing::warn!(error = %format!("{e:#}"), "could not record the last refusal counts");
        }
    }
}

/// Starts the server on `listener`.
pub async fn start(
    engine: Engine,
    clock: Arc<dyn Clock>,
    settings: ServeSettings,
    listener: TcpListener,
) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let accepting = Arc::new(AtomicBool::new(true));
    let slack_api = match &settings.slack {
        // Each call ends well within the delivery deadline, so a round is never cut short by
        // one slow answer.
        Some(s) => {
            Some(SlackApi::new(&s.api_url, s.bot_token.expose_secret())?.with_timeout(settings.outbox.deadline / 3))
        }
        None => None,
    };
    let discord_api = match &settings.discord {
        Some(d) => Some(DiscordApi::new(
            &d.api_base,
            d.bot_token.expose_secret(),
            &d.application_id,
        )?),
        None => None,
    };
    // The one place that names each platform's implementation of the delivery seam.
    let mut platforms = Platforms::none();
    if let Some(api) = &slack_api {
        platforms = platforms.with(Platform::Slack, Arc::new(api.clone()));
    }
    if let Some(api) = &discord_api {
        platforms = platforms.with(Platform::Discord, Arc::new(api.clone()));
    }
    let worker = Worker::new(
        engine.pool().clone(),
        Arc::new(
            ChatDeliverer::new(engine.clone(), platforms.clone())
                .with_webhooks(WebhookSender::new(engine.clone(), settings.api.receipts.clone())?),
        ),
        settings.outbox.clone(),
        clock.clone(),
    );
    let engine = engine.with_outbox_waker(worker.waker());
    let mut tasks = vec![
        tokio::spawn(worker.run(stopped.clone())),
        audit::spawn_sealer(engine.pool().clone(), settings.seal_every),
        spawn_refusal_counts(engine.clone(), settings.seal_every.max(Duration::from_secs(1))),
        crate::digest::scheduler::spawn(
            Scheduler::new(engine.clone(), platforms.configured()),
            settings.tick_every,
        ),
    ];
    let slack = match (&settings.slack, slack_api) {
        (Some(s), Some(api)) => {
            // The verifier keeps its own copy; exposed here, where it is handed over.
            let secrets: Vec<String> = s.signing_secrets.iter().map(|s| s.expose_secret().to_owned()).collect();
            let app = Arc::new(SlackApp {
                engine: engine.clone(),
                verifier: SlackVerifier::new(&secrets, clock.clone()),
                api,
                ack_budget: settings.ack_budget,
            });
            if let Some(token) = &s.app_token {
                tasks.push(crate::chat::slack::socket::spawn(
                    app.clone(),
                    token.expose_secret().to_owned(),
                ));
            }
            Some(app)
        }
        _ => None,
    };
    let discord = match (&settings.discord, discord_api) {
        (Some(d), Some(api)) => {
            let app = Arc::new(DiscordApp {
                engine: engine.clone(),
                verifier: DiscordVerifier::new(&d.public_key, clock.clone())?,
                api,
                ack_budget: settings.ack_budget,
            });
            if d.gateway {
                tasks.push(crate::chat::discord::gateway::spawn(
                    app.clone(),
                    d.bot_token.expose_secret().to_owned(),
                ));
            }
            Some(app)
        }
        _ => None,
    };
    let health = Health {
        engine: engine.clone(),
        accepting: accepting.clone(),
    };
    let api = Arc::new(ApiApp {
        engine: engine.clone(),
        auth: settings.api.auth.clone(),
        receipts: settings.api.receipts.clone(),
    });
    let router = http::router(health, slack, discord, api).layer(tower_http::trace::TraceLayer::new_for_http());
    let mut shutdown = stopped;
    let http = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(Running {
        addr,
        stop,
        accepting,
        tasks,
        http,
        engine,
    })
}
