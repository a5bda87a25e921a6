//! The Discord signature check is an extractor: any route whose handler takes a `SignedBody`
//! refuses an unsigned or forged request before the handler runs, exactly as the interactions
//! endpoint does.

use crate::common::discord_sign::{keypair, sign};
use crate::common::fake_discord::{FakeDiscord, APPLICATION_ID, BOT_TOKEN};
use crate::common::Bot;
use axum::routing::post;
use axum::Router;
use countersign::chat::discord::handlers::DiscordApp;
use countersign::chat::discord::signed::SignedBody;
use countersign::chat::discord::{DiscordApi, DiscordVerifier};
use countersign::clock::Clock;
use sqlx::PgPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

static RAN: AtomicUsize = AtomicUsize::new(0);

async fn probe(SignedBody(body): SignedBody) -> String {
    RAN.fetch_add(1, Ordering::SeqCst);
    format!("{} bytes", body.len())
}

#[sqlx::test]
async fn a_new_route_taking_the_extractor_cannot_skip_the_check(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let fake = FakeDiscord::start().await;
    let (key, public) = keypair();
    let clock: Arc<dyn Clock> = Arc::new(bot.clock.clone());
    let app = Arc::new(DiscordApp {
        engine: bot.engine.clone(),
        verifier: DiscordVerifier::new(&public, clock).unwrap(),
        api: DiscordApi::new(&fake.base_url(), BOT_TOKEN, APPLICATION_ID).unwrap(),
        ack_budget: Duration::from_secs(2),
    });
    let router = Router::new().route("/probe", post(probe)).with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/probe", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();
    let body = r#"{"type":1}"#;
    let now = bot.clock.now().timestamp().to_string();

    let unsigned = http.post(&url).body(body).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let text = unsigned.text().await.unwrap();
    assert!(text.starts_with("invalid request signature:"), "{text}");
    let forged = http
        .post(&url)
        .header("x-signature-timestamp", &now)
        .header("x-signature-ed25519", sign(&key, &now, r#"{"type":2}"#))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(RAN.load(Ordering::SeqCst), 0, "the handler never ran");

    let signed = http
        .post(&url)
        .header("x-signature-timestamp", &now)
        .header("x-signature-ed25519", sign(&key, &now, body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    assert_eq!(signed.text().await.unwrap(), "10 bytes");
    assert_eq!(RAN.load(Ordering::SeqCst), 1);
}
