//! Approvals that execute: an approved invoice is marked payable in a second database (the
//! "erp" target) exactly once, as it was shown: whatever the retries, replays and replicas,
//! a crash after the target committed, a target that is away, a wrong row count, a hostile
//! field value or a workflow file edited after the request was opened.

use crate::common::erp::{approve, approved_invoice, commands_with, effect_status, runner, Erp, EFFECT};
use crate::common::{url_of, Bot};
use countersign::effect::runner::{EffectRunner, FaultHook, Stage};
use countersign::outbox::DeliveryError;
use countersign::store::targets::Targets;
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[sqlx::test]
async fn an_approved_invoice_is_marked_payable_once_however_often_it_is_run(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    erp.invoice("ACME", "80.00").await;
    erp.invoice("Other", "80.00").await;
    let dir = commands_with(EFFECT);
    let bot = Bot::with_targets(pool.clone(), dir.path(), erp.targets()).await;
    approved_invoice(&bot, "ACME").await;
    assert_eq!(effect_status(&pool).await, vec![("pending".to_string(), None)]);
    let runner = runner(&bot, &erp);
    for _ in 0..3 {
        runner.run("INV-1", 1).await.unwrap();
    }
    assert_eq!(erp.rows().await, vec!["ACME payable carol INV-1", "Other received"]);
    assert_eq!(erp.ledger().await, vec![("INV-1@1".to_string(), 1)]);
    assert_eq!(effect_status(&pool).await, vec![("executed".to_string(), Some(1))]);
    let executed = bot
        .audit_lines()
        .await
        .iter()
        .filter(|l| l.starts_with("effect."))
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(
        executed,
        vec!["effect.previewed done INV-1", "effect.executed done INV-1"]
    );
    // The decision receipt states what ran.
    let view = bot.engine.current_view("INV-1").await.unwrap().unwrap();
    let claims = countersign::api::receipt::claims(&bot.engine, &view).await.unwrap();
    let effect = claims.effect.expect("the receipt names the effect");
    assert_eq!(
        (effect.target.as_str(), effect.status.as_str(), effect.rows),
        ("erp", "executed", Some(1))
    );
    let frozen = bot.engine.policy().workflow("invoice").unwrap().effect.clone().unwrap();
    assert_eq!(effect.statement_sha256, frozen.statement_sha256());
    bot.assert_chain_holds().await;
    erp.drop().await;
}

#[sqlx::test]
async fn replicas_running_the_same_effect_at_once_change_the_target_once(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    erp.invoice("ACME", "80.00").await;
    let dir = commands_with(EFFECT);
    let bot = Bot::with_targets(pool.clone(), dir.path(), erp.targets()).await;
    approved_invoice(&bot, "ACME").await;
    // Two replicas, each with its own pools to both databases.
    let other = PgPool::connect(&url_of(&pool)).await.unwrap();
    let replica = Bot::with_targets(other, dir.path(), erp.targets()).await;
    let (a, b) = (runner(&bot, &erp), runner(&replica, &erp));
    let runs = (0..8).map(|i| {
        if i % 2 == 0 {
            a.run("INV-1", 1)
        } else {
            b.run("INV-1", 1)
        }
    });
    for result in futures_util::future::join_all(runs).await {
        result.unwrap();
    }
    let changed: i64 = sqlx::query_scalar("SELECT count(*) FROM invoices WHERE status = 'payable'")
        .fetch_one(&erp.pool)
        .await
        .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(erp.ledger().await.len(), 1);
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'effect.executed'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(entries, 1);
    erp.drop().await;
}

#[sqlx::test]
async fn a_crash_after_the_target_committed_is_recorded_on_the_next_run_without_running_again(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    erp.invoice("ACME", "80.00").await;
    let dir = commands_with(EFFECT);
    let bot = Bot::with_targets(pool.clone(), dir.path(), erp.targets()).await;
    approved_invoice(&bot, "ACME").await;
    let crashed = Arc::new(AtomicBool::new(false));
    let once = crashed.clone();
    let hook: FaultHook = Arc::new(move |stage| {
        if stage == Stage::AfterTargetCommit && !once.swap(true, Ordering::SeqCst) {
            anyhow::bail!("the process was killed");
        }
        Ok(())
    });
    let dying = runner(&bot, &erp).with_fault(hook);
    assert!(matches!(dying.run("INV-1", 1).await, Err(DeliveryError::Transient(m)) if m.contains("killed")));
    assert!(crashed.load(Ordering::SeqCst));
    assert_eq!(
        erp.rows().await,
        vec!["ACME payable carol INV-1"],
        "the target committed"
    );
    assert_eq!(
        effect_status(&pool).await,
        vec![("pending".to_string(), None)],
        "the bot did not record it"
    );

    runner(&bot, &erp).run("INV-1", 1).await.unwrap();
    assert_eq!(effect_status(&pool).await, vec![("executed".to_string(), Some(1))]);
    assert_eq!(erp.ledger().await, vec![("INV-1@1".to_string(), 1)]);
    let ledger: String =
        sqlx::query_scalar("SELECT details->>'ledger' FROM audit_log WHERE action = 'effect.executed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(ledger, "found: it had run already");
    erp.drop().await;
}

#[sqlx::test]
async fn a_target_that_is_away_holds_the_effect_not_the_approval(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    erp.invoice("ACME", "80.00").await;
    let dir = commands_with(EFFECT);
    let bot = Bot::with_targets(pool.clone(), dir.path(), erp.targets()).await;
    approved_invoice(&bot, "ACME").await;
    assert_eq!(
        bot.status("INV-1").await,
        "approved",
        "the approval is recorded at once"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let away = format!("postgres://postgres@{}/erp", closed.local_addr().unwrap());
    drop(closed);
    let engine = bot.engine.clone().with_targets(Arc::new(Targets::from_vars([(
        "COUNTERSIGN_TARGET_ERP".to_string(),
        away.clone(),
    )])));
    let result = EffectRunner::new(engine).run("INV-1", 1).await;
    match result {
        Err(DeliveryError::Transient(m)) => assert!(!m.contains(&away), "the URL is never shown: {m}"),
        other => panic!("expected a retry, got {other:?}"),
    }
    assert_eq!(effect_status(&pool).await, vec![("pending".to_string(), None)]);
    assert_eq!(erp.rows().await, vec!["ACME received"]);
    runner(&bot, &erp).run("INV-1", 1).await.unwrap();
    assert_eq!(erp.rows().await, vec!["ACME payable carol INV-1"]);
    erp.drop().await;
}

#[sqlx::test]
async fn a_wrong_row_count_is_rolled_back_and_recorded_as_failed(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    erp.invoice("ACME", "80.00").await;
    erp.invoice("ACME", "80.00").await;
    let dir = commands_with(EFFECT);
    let bot = Bot::with_targets(pool.clone(), dir.path(), erp.targets()).await;
    bot.say("alice", "new invoice amount=80.00 vendor=ACME").await;
    let view = bot.engine.current_view("INV-1").await.unwrap().unwrap();
    let card = countersign::chat::render::card(&view, view.created_at).to_text();
    assert!(
        card.contains("| Preview: it would change 2 rows, not the 1 row expected, so it would fail"),
        "{card}"
    );
    approve(&bot).await;
    runner(&bot, &erp).run("INV-1", 1).await.unwrap();
    assert_eq!(erp.rows().await, vec!["ACME received", "ACME received"]);
    assert_eq!(erp.ledger().await, vec![]);
    assert_eq!(effect_status(&pool).await, vec![("failed".to_string(), None)]);
    let error: String = sqlx::query_scalar("SELECT details->>'error' FROM audit_log WHERE action = 'effect.failed'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        error,
        "it would have changed 2 rows where 1 were expected, so it was rolled back"
    );
    assert_eq!(bot.status("INV-1").await, "approved");
    // The owner team (dave, carol) gets the card, which says what failed.
    let told: Vec<String> = sqlx::query_scalar(
        "SELECT intent->'to'->>'user' FROM outbox WHERE intent->>'kind' = 'dm_card' AND id > \
         (SELECT max(id) FROM outbox WHERE intent->>'kind' = 'effect') ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(told, vec!["U0DAVE", "U0CAROL"]);
    // And the owners' digest lists it until it runs.
    let digest = countersign::digest::scheduler::Scheduler::new(bot.engine.clone(), vec![])
        .preview("finance-ops")
        .await
        .unwrap();
    let text = countersign::digest::render::text(&digest);
    assert!(
        text.contains("INV-1 on erp: failed: it would have changed 2 rows where 1 were expected, so it was rolled back (retry INV-1 once fixed)"),
        "{text}"
    );
    erp.drop().await;
}

#[sqlx::test]
async fn a_hostile_field_value_is_bound_never_pasted(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    let hostile = "x'); DROP TABLE invoices; --";
    erp.invoice(hostile, "80.00").await;
    erp.invoice("ACME", "80.00").await;
    let dir = commands_with(EFFECT);
    let bot = Bot::with_targets(pool.clone(), dir.path(), erp.targets()).await;
    approved_invoice(&bot, hostile).await;
    runner(&bot, &erp).run("INV-1", 1).await.unwrap();
    assert_eq!(
        erp.rows().await,
        vec![format!("{hostile} payable carol INV-1"), "ACME received".to_string()]
    );
    erp.drop().await;
}

#[sqlx::test]
async fn what_runs_is_what_was_shown_even_after_the_workflow_file_changes(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    erp.invoice("ACME", "80.00").await;
    let dir = commands_with(EFFECT);
    let bot = Bot::with_targets(pool.clone(), dir.path(), erp.targets()).await;
    bot.say("alice", "new invoice amount=80.00 vendor=ACME").await;
    // The file changes while the request waits: the new statement would mark it "changed".
    let edited = commands_with(&EFFECT.replace("status = 'payable'", "status = 'changed'"));
    let later = Bot::with_targets(pool.clone(), edited.path(), erp.targets()).await;
    later.say("carol", "approve INV-1").await;
    runner(&later, &erp).run("INV-1", 1).await.unwrap();
    assert_eq!(erp.rows().await, vec!["ACME payable carol INV-1"]);
    erp.drop().await;
}

#[sqlx::test]
async fn a_target_away_past_the_budget_fails_the_effect_tells_the_owners_and_retry_runs_it(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    erp.invoice("ACME", "80.00").await;
    let dir = commands_with(EFFECT);
    let bot = Bot::with_targets(pool.clone(), dir.path(), erp.targets()).await;
    approved_invoice(&bot, "ACME").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let away = format!("postgres://postgres@{}/erp", closed.local_addr().unwrap());
    drop(closed);
    let engine = bot.engine.clone().with_targets(Arc::new(Targets::from_vars([(
        "COUNTERSIGN_TARGET_ERP".to_string(),
        away,
    )])));
    let runner = EffectRunner::new(engine).with_budget(2);
    assert!(matches!(
        runner.attempt("INV-1", 1, 1).await,
        Err(DeliveryError::Transient(_))
    ));
    assert_eq!(
        effect_status(&pool).await,
        vec![("pending".to_string(), None)],
        "still waiting"
    );
    assert!(matches!(
        runner.attempt("INV-1", 1, 2).await,
        Err(DeliveryError::Transient(_))
    ));
    assert_eq!(
        effect_status(&pool).await,
        vec![("failed".to_string(), None)],
        "given up on"
    );
    let told: Vec<String> = sqlx::query_scalar(
        "SELECT intent->'to'->>'user' FROM outbox WHERE intent->>'kind' = 'dm_card' AND id > \
         (SELECT max(id) FROM outbox WHERE intent->>'kind' = 'effect') ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(told, vec!["U0DAVE", "U0CAROL"], "the owner team got the card");
    // The target is back: an approver retries, and it runs once.
    let reply = bot.say("carol", "retry INV-1").await;
    assert!(
        reply.contains("-> effect of INV-1: Executed on erp: 1 row changed"),
        "{reply}"
    );
    assert_eq!(erp.rows().await, vec!["ACME payable carol INV-1"]);
    erp.drop().await;
}
