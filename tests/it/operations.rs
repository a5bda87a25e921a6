//! Operations: metrics, logs that never carry a secret, graceful shutdown, and riding out a
//! database outage without losing or doubling anything.

use crate::common::db_proxy::DbProxy;
use crate::common::exposition;
use crate::common::fake_slack::FakeSlack;
use crate::common::slack_harness::{slack_user, SlackBot};
use crate::common::slack_sign::signature;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[sqlx::test]
async fn metrics_cover_requests_decisions_refusals_the_outbox_and_the_chain(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    s.command("alice", "new invoice amount=50 vendor=Coffee").await;
    s.press("alice", "approve", "INV-1@1").await;
    s.press("carol", "approve", "INV-1@1").await;
    s.drained().await;
    s.bot.settle().await;
    let text = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "countersign_http_requests_total{platform=\"slack\",outcome=\"ok\"}",
        "countersign_decisions_total{workflow=\"invoice\",outcome=\"approved\"}",
        "countersign_refusals_total{reason=\"self_approval\"}",
        "countersign_deliveries_total{kind=\"post_card\",result=\"delivered\"}",
        "countersign_platform_api_seconds_count{platform=\"slack\",method=\"chat_post_message\"}",
        "countersign_outbox_depth 0",
        "countersign_outbox_oldest_seconds 0",
        "countersign_audit_sealed_through ",
        "countersign_db_pool_connections ",
        "countersign_database_up 1",
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
    // Those counters exist at zero from the start: these did count something.
    for series in [
        "countersign_http_requests_total{platform=\"slack\",outcome=\"ok\"}",
        "countersign_decisions_total{workflow=\"invoice\",outcome=\"approved\"}",
        "countersign_refusals_total{reason=\"self_approval\"}",
        "countersign_deliveries_total{kind=\"post_card\",result=\"delivered\"}",
        "countersign_platform_api_seconds_count{platform=\"slack\",method=\"chat_post_message\"}",
        "countersign_http_request_seconds_bucket{platform=\"slack\",le=\"+Inf\"}",
        "countersign_vote_seconds_bucket{kind=\"approve\",le=\"+Inf\"}",
        "countersign_delivery_seconds_bucket{kind=\"post_card\",le=\"+Inf\"}",
    ] {
        let counted = exposition::value(&text, series).unwrap_or_default();
        assert!(counted >= 1.0, "{series} is {counted} in\n{text}");
    }
    for family in [
        "countersign_http_request_seconds",
        "countersign_vote_seconds",
        "countersign_delivery_seconds",
        "countersign_platform_api_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} histogram\n")),
            "{family} in\n{text}"
        );
    }
    assert!(text.contains("countersign_vote_seconds_bucket{kind=\"approve\",le=\"0.005\"} "));
    assert_eq!(exposition::undescribed(&text), Vec::<String>::new(), "in\n{text}");
    s.stop().await;
}

/// Runs `countersign serve` with secrets in its environment, drives it, stops it with SIGTERM,
/// and returns what it logged, how it exited and whether /readyz turned false first.
async fn serve_and_stop(pool: &PgPool, format: &str) -> (String, Option<i32>, bool) {
    let fake = FakeSlack::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = crate::common::url_of(pool).replacen("postgres://postgres@", "postgres://postgres:db-password-71@", 1);
    let mut child = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &url)
        .env("COUNTERSIGN_COMMANDS", crate::common::example_commands())
        .env("SLACK_SIGNING_SECRET", "signing-secret-42")
        .env("SLACK_BOT_TOKEN", crate::common::fake_slack::DEFAULT_TOKEN)
        .env("SLACK_API_URL", fake.api_url())
        .env("COUNTERSIGN_LOG_FORMAT", format)
        .env("COUNTERSIGN_SHUTDOWN_DRAIN_MS", "700")
        .env("RUST_LOG", "debug")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Read the logs as they come: a full pipe would stall the server.
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut logs = String::new();
        let _ = stderr.read_to_string(&mut logs);
        logs
    });
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = "team_id=T0001&user_id=U0ALICE&channel_id=C0FIN&command=%2Fapproval&text=new+invoice+amount%3D5+vendor%3DX&trigger_id=1.2.3";
    let ts = chrono::Utc::now().timestamp();
    let sig = signature("signing-secret-42", ts, body);
    let ok = http
        .post(format!("{base}/slack/commands"))
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", &sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let forged = http
        .post(format!("{base}/slack/commands"))
        .header("x-slack-signature", "v0=deadbeef")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    fake.wait_for("chat.postMessage", 1, Duration::from_secs(10)).await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut saw_not_ready = false;
    let drain_started = Instant::now();
    while drain_started.elapsed() < Duration::from_millis(600) {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            saw_not_ready |= r.status() == 503;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        assert!(Instant::now() < deadline, "serve did not exit within 20 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let logs = reader.join().unwrap();
    assert!(
        logs.contains("slack-"),
        "the request span carries its correlation id:\n{logs}"
    );
    (logs, status, saw_not_ready)
}

async fn no_secret_is_logged(pool: PgPool, format: &str) {
    let (logs, status, saw_not_ready) = serve_and_stop(&pool, format).await;
    assert_eq!(status, Some(0), "graceful shutdown exits 0:\n{logs}");
    assert!(saw_not_ready, "/readyz turns false before the server stops");
    for secret in [
        "signing-secret-42",
        crate::common::fake_slack::DEFAULT_TOKEN,
        "db-password-71",
        "deadbeef",
    ] {
        assert!(!logs.contains(secret), "{secret} appears in the {format} logs");
    }
    if format == "json" {
        for line in logs.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "not JSON: {line}"
            );
        }
    }
}

#[sqlx::test]
async fn text_logs_carry_no_secret_and_sigterm_shuts_down_cleanly(pool: PgPool) {
    no_secret_is_logged(pool, "text").await;
}

#[sqlx::test]
async fn json_logs_carry_no_secret_and_sigterm_shuts_down_cleanly(pool: PgPool) {
    no_secret_is_logged(pool, "json").await;
}

#[sqlx::test]
async fn a_database_outage_loses_and_doubles_nothing(pool: PgPool) {
    let options = pool.connect_options().as_ref().clone();
    let target = format!("{}:{}", options.get_host(), options.get_port());
    let target = tokio::net::lookup_host(target).await.unwrap().next().unwrap();
    let proxy = DbProxy::start(target).await;
    let through = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(options.host("127.0.0.1").port(proxy.addr.port()))
        .await
        .unwrap();
    let s = SlackBot::start(through).await;
    for _ in 0..6 {
        s.command("alice", "new invoice amount=50 vendor=Coffee").await;
    }
    for n in 1..=3 {
        s.press("carol", "approve", &format!("INV-{n}@1")).await;
    }
    s.drained().await;

    proxy.cut();
    let ready = reqwest::get(format!("{}/readyz", s.base)).await.unwrap();
    assert_eq!(ready.status(), 503, "not ready while the database is away");
    let reply = s.command("alice", "new invoice amount=70 vendor=Lost").await;
    assert!(reply["text"].as_str().unwrap().contains("could not record"), "{reply}");
    for n in 4..=6 {
        s.press("carol", "approve", &format!("INV-{n}@1")).await;
    }
    let told = s.fake.wait_for("chat.postEphemeral", 3, Duration::from_secs(10)).await;
    assert!(
        told.iter()
            .all(|c| c.body["text"].as_str().unwrap().contains("could not record")),
        "{told:?}"
    );

    proxy.restore();
    let started = Instant::now();
    while reqwest::get(format!("{}/readyz", s.base)).await.unwrap().status() != 200 {
        assert!(started.elapsed() < Duration::from_secs(15), "did not recover by itself");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for n in 4..=6 {
        s.press("carol", "approve", &format!("INV-{n}@1")).await;
    }
    s.drained().await;
    assert_eq!(
        s.bot.count("requests").await,
        6,
        "the command refused during the outage left nothing behind"
    );
    assert_eq!(s.bot.count("decisions").await, 6);
    let confirmations: Vec<String> = s
        .fake
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| c.body["channel"] == slack_user("alice").as_str())
        .map(|c| c.body["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(confirmations.len(), 6, "{confirmations:?}");
    for n in 1..=6 {
        assert_eq!(
            confirmations
                .iter()
                .filter(|t| t.contains(&format!("INV-{n} ")))
                .count(),
            1,
            "INV-{n}"
        );
    }
    s.bot.assert_chain_holds().await;
    s.stop().await;
}
