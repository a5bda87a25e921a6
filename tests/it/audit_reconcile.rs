//! The state tables reconciled with the log: every way a request can end agrees with its
//! entries, and each difference made behind the application's back (a status flipped, a vote
//! forged in the log, a vote or decision slipped into the tables) is reported with its ref and
//! makes `audit verify` exit 1, while the chain itself still verifies.

use crate::common::tamper::{behind_the_triggers, countersign};
use crate::common::Bot;
use chrono::TimeDelta;
use countersign::audit::reconcile::{reconcile, Mismatch};
use sqlx::PgPool;

/// Requests ending every way there is: approved, rejected, cancelled, expired, amended with its
/// votes voided and then approved, and one still pending.
async fn every_ending(bot: &Bot) {
    for (person, line) in [
        ("alice", "new invoice amount=12500.00 vendor=ACME"),
        ("carol", "approve INV-1"),
        ("dave", "approve INV-1"),
        ("alice", "new invoice amount=900.00 vendor=Pens"),
        ("carol", "reject INV-2 not in the budget"),
        ("alice", "new invoice amount=70.00 vendor=Tea"),
        ("alice", "cancel INV-3 ordered twice"),
        ("alice", "new invoice amount=95.00 vendor=Ink"),
        ("carol", "approve INV-4"),
        ("alice", "amend INV-4 amount=60"),
        ("carol", "approve INV-4@2"),
        ("alice", "new invoice amount=20.00 vendor=Paper"),
        (
            "frank",
            r#"new prod-access environment=staging system=web reason=debugging duration_hours=1"#,
        ),
    ] {
        bot.say(person, line).await;
    }
    bot.clock.advance(TimeDelta::hours(4));
    bot.engine.expire_due().await.unwrap();
    bot.settle().await;
}

#[sqlx::test]
async fn every_way_a_request_ends_agrees_with_its_log(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    every_ending(&bot).await;
    for (r#ref, status) in [
        ("INV-1", "approved"),
        ("INV-2", "rejected"),
        ("INV-3", "cancelled"),
        ("INV-4", "approved"),
        ("INV-5", "pending"),
        ("ACC-1", "expired"),
    ] {
        assert_eq!(bot.status(r#ref).await, status, "{ref}");
    }
    assert_eq!(reconcile(&pool).await.unwrap(), vec![]);
    let run = countersign(&pool, &[], &["audit", "verify"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("OK: requests, votes and decisions agree with the audit log."),
        "{}",
        run.stdout
    );
}

#[sqlx::test]
async fn a_status_flipped_behind_the_triggers_is_reported_with_its_ref(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    every_ending(&bot).await;
    behind_the_triggers(
        &pool,
        &["UPDATE requests SET status = 'approved' WHERE ref = 'INV-5'"],
        0,
    )
    .await;
    let found = reconcile(&pool).await.unwrap();
    assert!(found.iter().all(|m| m.r#ref() == "INV-5"), "{found:?}");
    let run = countersign(&pool, &[], &["audit", "verify"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.starts_with("OK: "), "the chain itself holds: {}", run.stdout);
    assert!(
        run.stdout
            .contains("MISMATCH: INV-5 is approved but the log records no final state for it"),
        "{}",
        run.stdout
    );
}

#[sqlx::test]
async fn a_vote_forged_in_the_log_and_sealed_normally_is_reported(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    every_ending(&bot).await;
    // The bot's role may append entries: a forged one is sealed like any other.
    sqlx::query(
        "INSERT INTO audit_log (at, actor, identity, action, ref, version, outcome) \
         VALUES (now(), 'mallory', 'slack:T0001/U0MALLORY', 'vote.approve', 'INV-5', 1, 'done')",
    )
    .execute(&pool)
    .await
    .unwrap();
    bot.settle().await;
    assert_eq!(
        reconcile(&pool).await.unwrap(),
        vec![Mismatch::VoteNotStored {
            r#ref: "INV-5".into(),
            version: Some(1),
            voter: Some("mallory".into()),
            kind: Some("approve".into()),
        }]
    );
    let run = countersign(&pool, &[], &["audit", "verify"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(
            "MISMATCH: INV-5: the log records vote.approve by mallory on version 1 but the votes table has no such vote"
        ),
        "{}",
        run.stdout
    );
}

#[sqlx::test]
async fn rows_slipped_into_the_tables_without_entries_are_reported(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    every_ending(&bot).await;
    behind_the_triggers(
        &pool,
        &[
            "INSERT INTO votes (request_id, version, voter, identity, kind, roles, at) \
             SELECT id, 1, 'heidi', 'console:heidi', 'approve', '{finance-approver}', now() FROM requests WHERE ref = 'INV-5'",
            "INSERT INTO decisions (request_id, outcome, version, rule, policy_hash, at) \
             SELECT id, 'approved', 1, 'standard', 'x', now() FROM requests WHERE ref = 'INV-5'",
            "UPDATE requests SET version = 3 WHERE ref = 'INV-1'",
        ],
        0,
    )
    .await;
    let found: Vec<String> = reconcile(&pool).await.unwrap().iter().map(|m| m.to_string()).collect();
    assert_eq!(
        found,
        vec![
            "INV-1 is at version 3 but the log's last version is 1",
            "INV-5 has a decisions row (approved at version 1) but the log records no final state",
            "INV-5: the votes table has approve by heidi on version 1 with no vote entry in the log",
        ]
    );
}
