//! Effects on the bot's own database (`target = "countersign"`): the effect runs inside the
//! transaction that records the deciding vote, so the decision, the effect and their audit
//! entries commit together or not at all; racing approvers decide once and run it once; a
//! refused statement leaves the request approved with its effect failed.

use crate::common::{commands_dir, example_commands, Bot};
use countersign::approval::VoteKind;
use sqlx::{Executor, PgPool};

const EFFECT: &str = r#"
[effect]
target = "countersign"
sql = "INSERT INTO payable_invoices (ref, vendor, amount, approvers) VALUES (:ref, :vendor, :amount, :approvers)"
expect_rows = 1
"#;

async fn with_payables(pool: &PgPool) -> Bot {
    pool.execute(
        "CREATE TABLE payable_invoices (ref text PRIMARY KEY, vendor text NOT NULL, \
         amount numeric NOT NULL CHECK (amount < 1000), approvers text[] NOT NULL)",
    )
    .await
    .unwrap();
    let invoice = std::fs::read_to_string(example_commands().join("invoice.toml")).unwrap() + EFFECT;
    let people = std::fs::read_to_string(example_commands().join("people.toml")).unwrap();
    let dir = commands_dir(&[("people.toml", &people), ("invoice.toml", &invoice)]);
    Bot::with_commands(pool.clone(), dir.path()).await
}

async fn payables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT concat_ws(' ', ref, vendor, amount, array_to_string(approvers, ',')) FROM payable_invoices ORDER BY ref")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn effect_lines(bot: &Bot) -> Vec<String> {
    bot.audit_lines()
        .await
        .into_iter()
        .filter(|l| l.starts_with("effect."))
        .collect()
}

#[sqlx::test]
async fn the_effect_commits_with_the_deciding_vote(pool: PgPool) {
    let bot = with_payables(&pool).await;
    bot.say("alice", "new invoice amount=80.00 vendor=ACME").await;
    assert_eq!(
        payables(&pool).await,
        Vec::<String>::new(),
        "nothing runs before the decision"
    );
    bot.say("carol", "approve INV-1").await;
    bot.say("heidi", "approve INV-1").await;
    assert_eq!(payables(&pool).await, vec!["INV-1 ACME 80.00 carol"]);
    assert_eq!(
        effect_lines(&bot).await,
        vec!["effect.previewed done INV-1", "effect.executed done INV-1"]
    );
    let (status, rows): (String, i64) = sqlx::query_as("SELECT status, rows FROM request_effects")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((status.as_str(), rows), ("executed", 1));
    bot.assert_chain_holds().await;
}

#[sqlx::test]
async fn approvers_racing_decide_once_and_run_it_once(pool: PgPool) {
    let bot = with_payables(&pool).await;
    bot.say("alice", "new invoice amount=80.00 vendor=ACME").await;
    let (carol, heidi) = (bot.ctx("carol").await, bot.ctx("heidi").await);
    let votes = (0..8).map(|i| {
        let ctx = if i % 2 == 0 { &carol } else { &heidi };
        bot.engine.vote(ctx, "INV-1", Some(1), VoteKind::Approve, None)
    });
    for outcome in futures_util::future::join_all(votes).await {
        outcome.unwrap();
    }
    assert_eq!(payables(&pool).await.len(), 1);
    assert_eq!(
        effect_lines(&bot).await,
        vec!["effect.previewed done INV-1", "effect.executed done INV-1"]
    );
}

#[sqlx::test]
async fn a_refused_statement_leaves_the_request_approved_and_its_effect_failed(pool: PgPool) {
    let bot = with_payables(&pool).await;
    bot.say("alice", "new invoice amount=5000.00 vendor=ACME").await;
    bot.say("carol", "approve INV-1").await;
    assert_eq!(bot.status("INV-1").await, "approved");
    assert_eq!(payables(&pool).await, Vec::<String>::new());
    assert_eq!(
        effect_lines(&bot).await,
        vec!["effect.previewed done INV-1", "effect.failed done INV-1"]
    );
    let error: String = sqlx::query_scalar("SELECT error FROM request_effects")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(error.contains("payable_invoices_amount_check"), "{error}");
}

#[sqlx::test]
async fn a_crash_before_the_decision_commits_leaves_neither_and_the_next_click_does_both(pool: PgPool) {
    let bot = with_payables(&pool).await;
    bot.say("alice", "new invoice amount=80.00 vendor=ACME").await;
    crate::common::tamper::crash_once_at_commit(&pool, "decisions").await;
    let crashed = bot
        .engine
        .vote(&bot.ctx("carol").await, "INV-1", Some(1), VoteKind::Approve, None)
        .await;
    assert!(format!("{:#}", crashed.unwrap_err()).contains("the process died"));
    assert_eq!(bot.status("INV-1").await, "pending");
    assert_eq!(payables(&pool).await, Vec::<String>::new());
    assert_eq!(
        effect_lines(&bot).await,
        vec!["effect.previewed done INV-1"],
        "only the preview, from the opening"
    );
    bot.say("carol", "approve INV-1").await;
    assert_eq!(payables(&pool).await, vec!["INV-1 ACME 80.00 carol"]);
    assert_eq!(
        effect_lines(&bot).await,
        vec!["effect.previewed done INV-1", "effect.executed done INV-1"]
    );
}

#[sqlx::test]
async fn a_preview_runs_in_a_rolled_back_savepoint_and_can_be_turned_off(pool: PgPool) {
    let bot = with_payables(&pool).await;
    bot.say("alice", "new invoice amount=80.00 vendor=ACME").await;
    assert_eq!(
        payables(&pool).await,
        Vec::<String>::new(),
        "the preview left nothing behind"
    );
    let view = bot.engine.current_view("INV-1").await.unwrap().unwrap();
    let card = countersign::chat::render::card(&view, view.created_at).to_text();
    assert!(card.contains("| Preview: it would change 1 row\n"), "{card}");

    let invoice = std::fs::read_to_string(example_commands().join("invoice.toml")).unwrap()
        + &EFFECT.replace("expect_rows = 1", "expect_rows = 1\npreview = false");
    let people = std::fs::read_to_string(example_commands().join("people.toml")).unwrap();
    let dir = commands_dir(&[("people.toml", &people), ("invoice.toml", &invoice)]);
    let quiet = Bot::with_commands(pool.clone(), dir.path()).await;
    quiet.say("alice", "new invoice amount=90.00 vendor=Pens").await;
    let view = quiet.engine.current_view("INV-2").await.unwrap().unwrap();
    let card = countersign::chat::render::card(&view, view.created_at).to_text();
    assert!(
        card.contains("| No preview: this effect cannot be tried and rolled back"),
        "{card}"
    );
    let previews: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'effect.previewed' AND ref = 'INV-2'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(previews, 0);
}
