//! What people see and do around an effect: the card before and after it runs, retrying a
//! failed one, `check --targets` before anyone clicks, and the console running it as serve does.

use crate::common::erp::{approve, approved_invoice, commands_with, effect_status, runner, Erp, EFFECT};
use crate::common::Bot;
use sqlx::PgPool;

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
    // Slack's blocks and Discord's embed are built from the same card: the effect and its
    // preview are there too.
    let view = bot.engine.current_view("INV-1").await.unwrap().unwrap();
    let shared = countersign::chat::render::card(&view, view.created_at);
    let slack = serde_json::to_string(&countersign::chat::slack::blocks::card_blocks(&shared)).unwrap();
    let discord = serde_json::to_string(&countersign::chat::discord::components::card_embed(&shared)).unwrap();
    for platform in [&slack, &discord] {
        for line in [
            "Effect on erp: UPDATE invoices",
            "Preview: it would change 1 row",
            "Runs once when approved",
        ] {
            assert!(platform.contains(line), "{line:?} missing in {platform}");
        }
    }
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
