//! Approvals that execute: an approved invoice is marked payable in a second database (the
//! "erp" target) exactly once, as it was shown: whatever the retries, replays and replicas,
//! a crash after the target committed, a target that is away, a wrong row count, a hostile
//! field value or a workflow file edited after the request was opened.

use crate::common::{commands_dir, example_commands, url_of, Bot};
use countersign::approval::VoteKind;
use countersign::effect::runner::{EffectRunner, FaultHook, Stage};
use countersign::outbox::DeliveryError;
use countersign::store::targets::Targets;
use sqlx::{Executor, PgPool};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const EFFECT: &str = r#"
[effect]
target = "erp"
sql = """
UPDATE invoices SET status = 'payable', approved_by = :approvers, approval_ref = :ref
WHERE vendor = :vendor AND amount = :amount AND status = 'received'
"""
expect_rows = 1
"#;

/// The "erp" database beside the test's own, with its invoices; dropped when the test ends.
struct Erp {
    admin: PgPool,
    name: String,
    pub url: String,
    pub pool: PgPool,
}

impl Erp {
    async fn create(pool: &PgPool) -> Erp {
        let own = pool.connect_options().get_database().unwrap().to_string();
        // Test databases' names are as long as Postgres allows: a suffix would be cut off.
        let name = format!("erp_{}", &own[own.len().saturating_sub(24)..]);
        // A run that failed before dropping it leaves it behind.
        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        pool.execute(drop.as_str()).await.unwrap();
        pool.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap();
        let url = url_of(pool).replace(&format!("/{own}"), &format!("/{name}"));
        let erp = PgPool::connect(&url).await.unwrap();
        erp.execute(
            "CREATE TABLE invoices (number serial PRIMARY KEY, vendor text NOT NULL, amount numeric NOT NULL, \
             status text NOT NULL DEFAULT 'received', approved_by text[], approval_ref text)",
        )
        .await
        .unwrap();
        Erp {
            admin: pool.clone(),
            name,
            url,
            pool: erp,
        }
    }

    async fn invoice(&self, vendor: &str, amount: &str) {
        sqlx::query("INSERT INTO invoices (vendor, amount) VALUES ($1, $2::numeric)")
            .bind(vendor)
            .bind(amount)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// Each invoice as `vendor status approved_by approval_ref`, in number order.
    async fn rows(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT concat_ws(' ', vendor, status, array_to_string(approved_by, ','), approval_ref) \
             FROM invoices ORDER BY number",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    async fn ledger(&self) -> Vec<(String, i64)> {
        sqlx::query_as("SELECT effect_id, rows FROM countersign_effects ORDER BY effect_id")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default()
    }

    fn targets(&self) -> Arc<Targets> {
        Arc::new(Targets::from_vars([(
            "COUNTERSIGN_TARGET_ERP".to_string(),
            self.url.clone(),
        )]))
    }

    async fn drop(self) {
        self.pool.close().await;
        self.admin
            .execute(format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name).as_str())
            .await
            .unwrap();
    }
}

/// The example commands with the invoice workflow marking invoices payable in "erp".
fn commands_with(effect: &str) -> crate::common::tempdir::TempDir {
    let invoice = std::fs::read_to_string(example_commands().join("invoice.toml")).unwrap() + effect;
    let people = std::fs::read_to_string(example_commands().join("people.toml")).unwrap();
    commands_dir(&[("people.toml", &people), ("invoice.toml", &invoice)])
}

/// Opened and approved through the engine, not the console (which runs effects at once): the
/// tests below run the effect themselves.
async fn approved_invoice(bot: &Bot, vendor: &str) {
    bot.say("alice", &format!("new invoice amount=80.00 vendor=\"{vendor}\""))
        .await;
    approve(bot).await;
}

async fn approve(bot: &Bot) {
    let carol = bot.ctx("carol").await;
    let outcome = bot
        .engine
        .vote(&carol, "INV-1", Some(1), VoteKind::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        outcome.request().map(|v| v.status),
        Some(countersign::approval::Status::Approved)
    );
}

async fn effect_status(pool: &PgPool) -> Vec<(String, Option<i64>)> {
    sqlx::query_as("SELECT status, rows FROM request_effects ORDER BY request_id, version")
        .fetch_all(pool)
        .await
        .unwrap()
}

fn runner(bot: &Bot, erp: &Erp) -> EffectRunner {
    EffectRunner::new(bot.engine.clone().with_targets(erp.targets()))
}

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
async fn the_card_shows_what_will_run_with_its_values_and_then_what_ran(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    erp.invoice("ACME", "80.00").await;
    let dir = commands_with(EFFECT);
    let bot = Bot::with_targets(pool.clone(), dir.path(), erp.targets()).await;
    let card = |bot: &Bot| {
        let engine = bot.engine.clone();
        let now = countersign::clock::Clock::now(&bot.clock);
        async move {
            let view = engine.current_view("INV-1").await.unwrap().unwrap();
            countersign::chat::render::card(&view, now).to_text()
        }
    };
    bot.say("alice", "new invoice amount=80.00 vendor=ACME").await;
    insta::assert_snapshot!(card(&bot).await);
    approve(&bot).await;
    let waiting = card(&bot).await;
    assert!(
        waiting.contains("| Approved: the effect on erp is waiting to run"),
        "{waiting}"
    );
    assert!(
        waiting.contains("With :approvers = {carol}, :ref = 'INV-1', :vendor = 'ACME', :amount = 80.00"),
        "{waiting}"
    );
    runner(&bot, &erp).run("INV-1", 1).await.unwrap();
    let done = card(&bot).await;
    assert!(done.contains("| Executed on erp: 1 row changed"), "{done}");
    erp.drop().await;
}

/// `countersign check --targets` on `dir`, with the erp target's URL when given.
fn check_targets(dir: &std::path::Path, erp: Option<&str>) -> (i32, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_countersign"));
    cmd.arg("--commands").arg(dir).args(["check", "--targets"]);
    cmd.env_remove("COUNTERSIGN_TARGET_ERP");
    if let Some(url) = erp {
        cmd.env("COUNTERSIGN_TARGET_ERP", url);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[sqlx::test]
async fn check_targets_prepares_each_statement_on_its_target_and_names_a_wrong_column(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    let good = commands_with(EFFECT);
    let (code, said) = check_targets(good.path(), Some(&erp.url));
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("invoice.toml: the effect prepares on erp."), "{said}");
    assert_eq!(erp.rows().await, Vec::<String>::new(), "nothing ran");

    let wrong = commands_with(&EFFECT.replace("approval_ref = :ref", "approval_reference = :ref"));
    let (code, said) = check_targets(wrong.path(), Some(&erp.url));
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("invoice.toml: [effect] does not prepare on erp: column \"approval_reference\" of relation \"invoices\" does not exist"),
        "{said}"
    );
    let (code, said) = check_targets(good.path(), None);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("set COUNTERSIGN_TARGET_ERP"), "{said}");
    erp.drop().await;
}

#[sqlx::test]
async fn a_failed_effect_is_retried_by_an_approver_once_the_cause_is_fixed_and_runs_once(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    let dir = commands_with(EFFECT);
    let bot = Bot::with_targets(pool.clone(), dir.path(), erp.targets()).await;
    approved_invoice(&bot, "ACME").await;
    // The invoice is not in the ERP yet: no row matches, so the effect fails.
    runner(&bot, &erp).run("INV-1", 1).await.unwrap();
    assert_eq!(effect_status(&pool).await, vec![("failed".to_string(), None)]);

    // Who may not, and what may not be retried, is refused and recorded.
    let refused = bot.say("alice", "retry INV-1").await;
    assert!(
        refused.contains("needs the owner team (finance-ops) or an approver of invoice"),
        "{refused}"
    );
    assert!(bot
        .say("carol", "retry INV-9")
        .await
        .contains("There is no request INV-9"));
    erp.invoice("ACME", "80.00").await;
    let reply = bot.say("carol", "retry INV-1").await;
    assert!(
        reply.contains("The effect of INV-1 will run again on erp, once."),
        "{reply}"
    );
    // The console runs it as serve would; a later delivery of the same message runs nothing.
    assert!(
        reply.contains("-> effect of INV-1: Executed on erp: 1 row changed"),
        "{reply}"
    );
    runner(&bot, &erp).run("INV-1", 1).await.unwrap();
    assert_eq!(erp.rows().await, vec!["ACME payable carol INV-1"]);
    let again = bot.say("heidi", "retry INV-1").await;
    assert!(
        again.contains("The effect of INV-1 already ran (1 row changed): it runs once."),
        "{again}"
    );
    let lines: Vec<String> = bot
        .audit_lines()
        .await
        .into_iter()
        .filter(|l| l.starts_with("effect."))
        .collect();
    assert_eq!(
        lines,
        vec![
            "effect.previewed done INV-1",
            "effect.failed done INV-1",
            "effect.retried refused:not_permitted INV-1",
            "effect.retried refused:unknown_ref INV-9",
            "effect.retried done INV-1",
            "effect.executed done INV-1",
            "effect.retried refused:already_decided INV-1",
        ]
    );
    erp.drop().await;
}

#[sqlx::test]
async fn the_console_runs_an_effect_as_serve_does(pool: PgPool) {
    let erp = Erp::create(&pool).await;
    erp.invoice("ACME", "80.00").await;
    let dir = commands_with(EFFECT);
    let bot = Bot::with_targets(pool.clone(), dir.path(), erp.targets()).await;
    bot.say("alice", "new invoice amount=80.00 vendor=ACME").await;
    let said = bot.say("carol", "approve INV-1").await;
    assert!(
        said.contains("-> effect of INV-1: Executed on erp: 1 row changed"),
        "{said}"
    );
    assert_eq!(erp.rows().await, vec!["ACME payable carol INV-1"]);
    // The message stays queued for a server, whose delivery finds it has run.
    runner(&bot, &erp).run("INV-1", 1).await.unwrap();
    assert_eq!(erp.ledger().await, vec![("INV-1@1".to_string(), 1)]);
    erp.drop().await;
}
