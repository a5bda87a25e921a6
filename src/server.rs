//! `countersign serve`: the HTTP routes (platforms, the API, health), the outbox worker, the
//! audit sealer and the scheduler, started together and stopped together.

use crate::api::webhook::WebhookSender;
use crate::api::{ApiApp, ApiAuth, ReceiptSigner};
use crate::chat::delivery::ChatDeliverer;
use crate::digest::scheduler::Scheduler;
use crate::engine::Engine;
use crate::http::{self, Health};
use crate::outbox::{OutboxConfig, Worker};
use crate::{audit, clock::Clock};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
fn spawn_refusal_counts(tasks: &TaskTracker, engine: Engine, every: Duration, stop: CancellationToken) {
    tasks.spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            if let Err(e) = engine.flush_refusal_counts().await {
                tracing::warn!(error = %format!("{e:#}"), "could not record refusal counts; will retry");
            }
        }
    });
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
    /// The key that signs decision receipts and checkpoints.
    pub receipts: Option<ReceiptSigner>,
    /// How often the audit chain is verified in the background and a checkpoint of it signed
    /// (`serve` always sets it; none: only when asked).
    pub checkpoint_every: Option<Duration>,
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: CancellationToken,
    // A server dropped without `shutdown` stops its tasks too, rather than running on unseen.
    _stop_on_drop: tokio_util::sync::DropGuard,
    accepting: Arc<AtomicBool>,
    tasks: TaskTracker,
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
        self.stop.cancel();
        // Requests in flight are waited for however long they take, as a client holds each.
        let _ = self.http.await;
        // Each task stops at its next check: the outbox worker after its round in hand, the
        // sealer, the scheduler and the refusal counts after the pass in hand, the Slack and
        // Discord connections at once. The bound is for a platform that never answers.
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks were still running 10 seconds after shutdown began; not waiting for them");
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
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let accepting = Arc::new(AtomicBool::new(true));
    // Every configured chat platform: its delivery client now, its inbound side once the
    // engine rings this server's outbox.
    let adapters = crate::chat::adapters::configured(&settings)?;
    let platforms = crate::chat::adapters::platforms(&adapters);
    let worker = Worker::new(
        engine.pool().clone(),
        Arc::new(
            ChatDeliverer::new(engine.clone(), platforms.clone())
                .with_webhooks(WebhookSender::new(engine.clone(), settings.api.receipts.clone())?)
                .with_effects(
                    crate::effect::runner::EffectRunner::new(engine.clone()).with_budget(settings.outbox.max_attempts),
                ),
        ),
        settings.outbox.clone(),
        clock.clone(),
    );
    let engine = engine.with_outbox_waker(worker.waker());
    tasks.spawn(worker.run(stop.child_token()));
    audit::spawn_sealer(&tasks, engine.pool().clone(), settings.seal_every, stop.child_token());
    if let Some(every) = settings.api.checkpoint_every {
        crate::engine::checkpoint::spawn_checkpointer(
            &tasks,
            engine.clone(),
            settings.api.receipts.clone(),
            every,
            stop.child_token(),
        );
    }
    if settings.api.receipts.is_none() {
        tracing::warn!(
            "no receipt key (COUNTERSIGN_RECEIPT_KEY): checkpoints of the audit chain are not signed, so nothing \
             outside the database can prove the chain was not rewritten"
        );
    }
    spawn_refusal_counts(
        &tasks,
        engine.clone(),
        settings.seal_every.max(Duration::from_secs(1)),
        stop.child_token(),
    );
    crate::digest::scheduler::spawn(
        &tasks,
        Scheduler::new(engine.clone(), platforms.configured()),
        settings.tick_every,
        stop.child_token(),
    );
    let start = crate::chat::adapters::Start {
        engine: &engine,
        clock: clock.clone(),
        tasks: &tasks,
        stop: &stop,
        ack_budget: settings.ack_budget,
    };
    let platform_routes = adapters
        .into_iter()
        .map(|adapter| adapter.start(&start))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let health = Health {
        engine: engine.clone(),
        accepting: accepting.clone(),
    };
    let api = Arc::new(ApiApp {
        engine: engine.clone(),
        auth: settings.api.auth.clone(),
        receipts: settings.api.receipts.clone(),
    });
    let router = http::router(health, platform_routes, api).layer(tower_http::trace::TraceLayer::new_for_http());
    let draining = stop.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(draining.cancelled_owned())
            .await
    });
    Ok(Running {
        addr,
        _stop_on_drop: stop.clone().drop_guard(),
        stop,
        accepting,
        tasks,
        http,
        engine,
    })
}
