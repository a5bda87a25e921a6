//! A Slack that answers slowly or never: delivery goes on, and nothing is posted twice.

use crate::common::fake_slack::Scripted;
use crate::common::slack_harness::{quick_outbox, slack_user, SlackBot, CHANNEL};
use countersign::outbox::OutboxConfig;
use sqlx::PgPool;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// How many posts went to `channel`.
fn posts_to(s: &SlackBot, channel: &str) -> usize {
    s.fake
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.body["channel"] == channel)
        .count()
}

#[sqlx::test]
async fn answers_slower_than_the_configured_lease_post_nothing_twice(pool: PgPool) {
    // A lease shorter than a slow answer is what doubled posts: the worker must lengthen it
    // past its delivery deadline, and record each delivery as it completes.
    let s = SlackBot::start_with_outbox(
        pool,
        OutboxConfig {
            lease: Duration::from_millis(300),
            deadline: Duration::from_secs(3),
            search_every: Duration::from_millis(100),
            ..quick_outbox()
        },
    )
    .await;
    s.command("alice", r#"new invoice amount=12500.00 vendor="ACME GmbH""#)
        .await;
    s.fake.wait_for("chat.postMessage", 4, WAIT).await;
    // Slack acts on every update at once but answers each only after 700 ms.
    s.fake
        .script("chat.update", vec![Scripted::Slow(Duration::from_millis(700)); 4]);
    s.press("carol", "approve", "INV-1@1").await;
    // Meanwhile another request's cards go out.
    s.command("bob", "new invoice amount=50.00 vendor=Pens").await;
    s.fake.wait_for("chat.update", 4, WAIT).await;
    s.drained().await;
    tokio::time::sleep(Duration::from_millis(1000)).await; // past several short leases

    assert_eq!(s.fake.calls_to("chat.update").len(), 4, "one update per copy of INV-1");
    assert_eq!(posts_to(&s, CHANNEL), 2, "one card per request in the channel");
    for approver in ["carol", "heidi"] {
        assert_eq!(
            posts_to(&s, &slack_user(approver)),
            2,
            "{approver}: one card per request"
        );
    }
    s.stop().await;
}

#[sqlx::test]
async fn a_call_that_is_never_answered_times_out_and_holds_nothing_else(pool: PgPool) {
    let s = SlackBot::start_with_outbox(
        pool,
        OutboxConfig {
            deadline: Duration::from_secs(3),
            ..quick_outbox()
        },
    )
    .await;
    s.command("alice", r#"new invoice amount=12500.00 vendor="ACME GmbH""#)
        .await;
    s.fake.wait_for("chat.postMessage", 4, WAIT).await;
    // The first update is accepted and never answered.
    s.fake.script("chat.update", vec![Scripted::Hang]);
    s.press("carol", "approve", "INV-1@1").await;
    let started = std::time::Instant::now();
    // Another request opened meanwhile is delivered while the call hangs.
    s.command("bob", "new invoice amount=50.00 vendor=Pens").await;
    let posts = s.fake.wait_for("chat.postMessage", 7, WAIT).await;
    assert!(posts
        .iter()
        .any(|c| c.body["channel"] == CHANNEL && c.body["text"].as_str().unwrap_or_default().starts_with("INV-2")));
    // The hung update times out (a third of the deadline) and is sent again; every copy of
    // INV-1 ends up updated.
    s.drained().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the hang held delivery for {:?}",
        started.elapsed()
    );
    // A card update job covers every copy; after the hang it runs again whole (an update is
    // idempotent: it sets the card to the request's current state).
    let updates = s.fake.calls_to("chat.update");
    assert_eq!(updates.len(), 8, "four copies, updated again after the hang");
    let mut copies: Vec<String> = updates.iter().map(|u| u.body["channel"].to_string()).collect();
    copies.sort();
    copies.dedup();
    assert_eq!(copies.len(), 4);
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL")
        .fetch_one(s.bot.engine.pool())
        .await
        .unwrap();
    assert_eq!(dead, 0, "the hung call was retried, not given up");
    let metrics = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("countersign_platform_timeouts_total{platform=\"slack\"}"),
        "the timeout is counted for the alert: {metrics}"
    );
    // The series exists at zero from the start: this one did count.
    let timeouts =
        crate::common::exposition::value(&metrics, "countersign_platform_timeouts_total{platform=\"slack\"}");
    assert!(timeouts >= Some(1.0), "the timeout is counted for the alert: {metrics}");
    s.stop().await;
}
