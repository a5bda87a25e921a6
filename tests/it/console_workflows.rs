//! The example workflows end to end through the console adapter, against real Postgres.

use crate::common::Bot;
use chrono::TimeDelta;
use sqlx::PgPool;

#[sqlx::test]
async fn the_invoice_story_ends_approved_with_a_confirmation_and_a_sound_chain(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let transcript = bot
        .transcript(&[
            (
                "alice",
                r#"/approval new invoice amount=12500.00 vendor="ACME GmbH" cost_center=ops"#,
            ),
            ("alice", "approve INV-1"),
            ("bob", "approve INV-1"),
            ("carol", "approve INV-1@1"),
            ("heidi", "approve INV-1@1"),
            ("dave", "approve INV-1@1"),
            ("carol", "approve INV-1@1"),
            ("alice", "history INV-1"),
        ])
        .await;
    insta::assert_snapshot!(transcript);
    assert_eq!(bot.status("INV-1").await, "approved");
    assert_eq!(bot.count("decisions").await, 1);
    bot.assert_chain_holds().await;
}

#[sqlx::test]
async fn a_small_invoice_needs_one_finance_approver(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say("bob", "new invoice amount=1200 vendor=Paperclips").await;
    let reply = bot.say("heidi", "approve inv-1").await;
    assert!(reply.contains("Your approval completed INV-1"), "{reply}");
    assert!(reply.contains("Rule: standard"), "{reply}");
    assert_eq!(bot.status("INV-1").await, "approved");
}

#[sqlx::test]
async fn production_access_needs_two_distinct_security_approvers(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let transcript = bot
        .transcript(&[
            ("frank", r#"new prod-access environment=production system="payments-db" reason="Rotate the replica certificate" duration_hours=2"#),
            ("erin", "approve ACC-1"),
            ("erin", "approve ACC-1"),
            ("judy", "approve ACC-1"),
            ("ivan", "approve ACC-1"),
        ])
        .await;
    insta::assert_snapshot!(transcript);
    assert_eq!(bot.status("ACC-1").await, "approved");
}

#[sqlx::test]
async fn staging_access_needs_one_security_approver(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say(
        "judy",
        r#"new prod-access environment=staging system=web reason="Debug a flaky test" duration_hours=1"#,
    )
    .await;
    let reply = bot.say("ivan", "approve ACC-1").await;
    assert!(reply.contains("Rule: staging"), "{reply}");
    assert_eq!(bot.status("ACC-1").await, "approved");
}

#[sqlx::test]
async fn an_untouched_request_expires_and_later_votes_are_refused(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say(
        "frank",
        r#"new prod-access environment=staging system=web reason=debugging duration_hours=1"#,
    )
    .await;
    bot.clock.advance(TimeDelta::hours(4));
    let reply = bot.say("erin", "approve ACC-1").await;
    assert!(reply.contains("ACC-1 is already expired"), "{reply}");
    assert_eq!(bot.status("ACC-1").await, "expired");
    let tail = bot.audit_lines().await;
    assert_eq!(
        tail[tail.len() - 2..],
        [
            "request.expired done ACC-1".to_string(),
            "vote.approve refused:already_decided ACC-1".to_string()
        ]
    );
}

#[sqlx::test]
async fn the_expiry_sweep_expires_every_overdue_request_once(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say(
        "frank",
        r#"new prod-access environment=staging system=web reason=one duration_hours=1"#,
    )
    .await;
    bot.say("alice", "new invoice amount=10 vendor=Pens").await;
    bot.clock.advance(TimeDelta::hours(5));
    let expired = bot.engine.expire_due().await.unwrap();
    assert_eq!(expired.len(), 1, "only the 4h production-access request is due");
    assert_eq!(bot.status("ACC-1").await, "expired");
    assert_eq!(bot.status("INV-1").await, "pending");
    assert!(bot.engine.expire_due().await.unwrap().is_empty());
    bot.clock.advance(TimeDelta::hours(72));
    assert_eq!(bot.engine.expire_due().await.unwrap().len(), 1);
    assert_eq!(bot.count("decisions").await, 2);
    bot.assert_chain_holds().await;
}

#[sqlx::test]
async fn purchase_orders_pick_the_first_matching_rule(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let cases = [
        (
            "new purchase-order amount=30000 category=hardware supplier=Dell",
            "capital",
        ),
        (
            "new purchase-order amount=30000 category=travel supplier=Lufthansa",
            "standard",
        ),
        (
            "new purchase-order amount=150000 category=travel supplier=Charter",
            "capital",
        ),
        (
            "new purchase-order amount=4000 category=services supplier=Plumber urgent=yes",
            "urgent-services",
        ),
        (
            "new purchase-order amount=6000 category=services supplier=Plumber urgent=yes",
            "standard",
        ),
    ];
    for (line, rule) in cases {
        let reply = bot.say("alice", line).await;
        assert!(
            reply.contains(&format!("Rule: {rule}")),
            "{line} should use {rule}:\n{reply}"
        );
    }
}

#[sqlx::test]
async fn an_amendment_voids_earlier_votes_and_cards_of_the_old_version_are_refused(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let transcript = bot
        .transcript(&[
            ("alice", "new invoice amount=12500.00 vendor=ACME"),
            ("carol", "approve INV-1@1"),
            ("bob", "amend INV-1 amount=900.00"),
            ("alice", "amend INV-1 amount=900.00"),
            ("heidi", "approve INV-1@1"),
            ("carol", "approve INV-1@2"),
        ])
        .await;
    insta::assert_snapshot!(transcript);
    assert_eq!(bot.status("INV-1").await, "approved");
    let versions: i64 = bot.count("request_versions").await;
    assert_eq!(versions, 2);
}

#[sqlx::test]
async fn a_reject_needs_a_reason_and_tells_the_requester(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let transcript = bot
        .transcript(&[
            ("alice", "new invoice amount=50 vendor=Coffee"),
            ("alice", "reject INV-1 changed my mind"),
            ("carol", "reject INV-1"),
            ("carol", "reject INV-1 duplicate of last week's invoice"),
            ("heidi", "approve INV-1"),
        ])
        .await;
    insta::assert_snapshot!(transcript);
    assert_eq!(bot.status("INV-1").await, "rejected");
}

#[sqlx::test]
async fn only_the_requester_cancels_and_a_cancelled_request_stays_cancelled(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let transcript = bot
        .transcript(&[
            ("alice", "new invoice amount=50 vendor=Coffee"),
            ("carol", "cancel INV-1"),
            ("alice", "cancel INV-1 ordered twice"),
            ("alice", "cancel INV-1"),
            ("carol", "approve INV-1"),
            ("alice", "amend INV-1 amount=60"),
        ])
        .await;
    insta::assert_snapshot!(transcript);
    assert_eq!(bot.status("INV-1").await, "cancelled");
}

#[sqlx::test]
async fn reading_commands_show_only_what_the_caller_may_see(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say("alice", "new invoice amount=50 vendor=Coffee").await;
    bot.say(
        "frank",
        r#"new prod-access environment=staging system=web reason=debugging duration_hours=1"#,
    )
    .await;
    let transcript = bot
        .transcript(&[
            ("alice", "list"),
            ("grace", "list all"),
            ("frank", "list mine"),
            ("frank", "show INV-1"),
            ("frank", "history INV-1"),
            ("alice", "show INV-404"),
            ("alice", "whoami"),
            ("alice", "help"),
            ("alice", "policy nope"),
            ("alice", "frobnicate INV-1"),
        ])
        .await;
    insta::assert_snapshot!(transcript);
    let lines = bot.audit_lines().await;
    assert!(
        lines.contains(&"request.viewed refused:not_permitted INV-1".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"request.viewed refused:unknown_ref INV-404".to_string()),
        "{lines:?}"
    );
}

#[sqlx::test]
async fn the_policy_command_explains_the_rules(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let reply = bot.say("alice", "policy invoice").await;
    assert!(reply.contains("10,000.00 EUR"), "{reply}");
    assert!(reply.contains("finance-director"), "{reply}");
}
