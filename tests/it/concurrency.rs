//! Many people clicking at once behave like one: exactly one final state, exactly the votes
//! that count, every other attempt refused and audited.

use crate::common::{commands_dir, Bot};
use countersign::approval::VoteKind;
use countersign::engine::{Context, Outcome};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::collections::BTreeMap;

/// 50 voters: v00..v39 are approvers, v40..v49 controllers; v45..v49 hold both roles.
fn crowd() -> crate::common::tempdir::TempDir {
    let mut people = String::from("[[person]]\nid = \"req\"\nname = \"Requester\"\nroles = [\"clerk\"]\n\n");
    for i in 0..50 {
        let roles = match i {
            0..=39 => r#"["approver"]"#,
            40..=44 => r#"["controller"]"#,
            _ => r#"["approver", "controller"]"#,
        };
        people.push_str(&format!(
            "[[person]]\nid = \"v{i:02}\"\nname = \"Voter {i:02}\"\nroles = {roles}\n\n"
        ));
    }
    people.push_str("[team.treasury]\nmembers = [\"v00\"]\n\n[team.treasury.digest]\ncron = \"0 0 9 * * *\"\ntimezone = \"UTC\"\ndm_members = true\n");
    let payout = r#"
id = "payout"
title = "Payout"
prefix = "PAY"
owner = "treasury"
description = "A payout that needs three approvers and a controller."

[fields.amount]
type = "money"
currency = "EUR"
required = true

[access]
request = ["clerk"]
view = ["clerk", "approver", "controller"]

[[rule]]
name = "all"
approvals = [{ role = "approver", count = 3 }, { role = "controller", count = 1 }]
"#;
    commands_dir(&[("people.toml", &people), ("payout.toml", payout)])
}

/// A wider pool than the test default, so that the votes really race in the database.
async fn wide(pool: &PgPool) -> PgPool {
    PgPoolOptions::new()
        .max_connections(25)
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .unwrap()
}

#[sqlx::test]
async fn fifty_concurrent_voters_produce_exactly_one_decision(pool: PgPool) {
    let dir = crowd();
    let bot = Bot::with_commands(wide(&pool).await, dir.path()).await;
    let opened = bot
        .engine
        .open(&bot.ctx("req").await, "payout", &[("amount".into(), "100".into())])
        .await
        .unwrap();
    assert!(matches!(opened, Outcome::Opened { .. }));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let engine = bot.engine.clone();
        let ctx = bot.ctx(&format!("v{i:02}")).await;
        tasks.push(tokio::spawn(async move {
            engine
                .vote(&ctx, "PAY-1", Some(1), VoteKind::Approve, None)
                .await
                .unwrap()
        }));
    }
    let mut counted = 0;
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        match t.await.unwrap() {
            Outcome::Voted { .. } => counted += 1,
            Outcome::Refused { refusal } => *refused.entry(refusal.reason.to_string()).or_default() += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        counted, 4,
        "three approvers and one controller count; refused: {refused:?}"
    );
    assert_eq!(refused.values().sum::<usize>(), 46);
    assert!(
        refused.keys().all(|r| r == "group_full" || r == "already_decided"),
        "{refused:?}"
    );
    assert_eq!(bot.status("PAY-1").await, "approved");
    assert_eq!(bot.count("decisions").await, 1);
    assert_eq!(bot.count("votes").await, 4);
    let lines = bot.audit_lines().await;
    let n = |s: &str| lines.iter().filter(|l| l.starts_with(s)).count();
    assert_eq!(n("vote.approve done"), 4);
    assert_eq!(n("vote.approve refused"), 46);
    assert_eq!(n("request.approved done"), 1);
    bot.assert_chain_holds().await;
}

#[sqlx::test]
async fn approve_reject_and_cancel_racing_leave_one_final_state(pool: PgPool) {
    let dir = crowd();
    let bot = Bot::with_commands(wide(&pool).await, dir.path()).await;
    for round in 1..=5 {
        let r#ref = format!("PAY-{round}");
        bot.engine
            .open(&bot.ctx("req").await, "payout", &[("amount".into(), "5".into())])
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let engine = bot.engine.clone();
            let ctx = bot.ctx(&format!("v{:02}", i + 30)).await;
            let r = r#ref.clone();
            tasks.push(tokio::spawn(async move {
                let kind = if i % 7 == 3 {
                    VoteKind::Reject
                } else {
                    VoteKind::Approve
                };
                engine.vote(&ctx, &r, None, kind, Some("not this week")).await.unwrap()
            }));
        }
        let engine = bot.engine.clone();
        let ctx = bot.ctx("req").await;
        let r = r#ref.clone();
        tasks.push(tokio::spawn(
            async move { engine.cancel(&ctx, &r, None).await.unwrap() },
        ));
        let finals = futures_util::future::join_all(tasks)
            .await
            .into_iter()
            .map(Result::unwrap)
            .filter(|o| o.request().is_some_and(|r| r.status.is_final()))
            .count();
        assert_eq!(finals, 1, "{ref}: exactly one action may bring it to a final state");
    }
    let decided: i64 = sqlx::query_scalar("SELECT count(*) FROM decisions")
        .fetch_one(bot.engine.pool())
        .await
        .unwrap();
    assert_eq!(decided, 5);
    bot.assert_chain_holds().await;
}

#[sqlx::test]
async fn twenty_double_clicks_with_one_key_make_one_vote(pool: PgPool) {
    let dir = crowd();
    let bot = Bot::with_commands(wide(&pool).await, dir.path()).await;
    bot.engine
        .open(&bot.ctx("req").await, "payout", &[("amount".into(), "5".into())])
        .await
        .unwrap();
    let ctx = Context {
        idempotency_key: Some("slack:click-1".into()),
        ..bot.ctx("v01").await
    };
    let before = bot.count("audit_log").await;
    let outcomes = futures_util::future::join_all((0..20).map(|_| {
        let engine = bot.engine.clone();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            engine
                .vote(&ctx, "PAY-1", Some(1), VoteKind::Approve, None)
                .await
                .unwrap()
        })
    }))
    .await;
    let first = outcomes[0].as_ref().unwrap().clone();
    assert!(matches!(first, Outcome::Voted { .. }), "{first:?}");
    for o in &outcomes {
        assert_eq!(o.as_ref().unwrap(), &first, "every replay returns the first outcome");
    }
    assert_eq!(bot.count("votes").await, 1);
    assert_eq!(bot.count("audit_log").await, before + 1);
}
