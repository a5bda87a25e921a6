//! Replayed idempotency keys: the first outcome comes back and nothing new is written.

use crate::common::Bot;
use countersign::approval::VoteKind;
use countersign::engine::{Context, Outcome};
use sqlx::PgPool;

async fn snapshot(bot: &Bot) -> [i64; 5] {
    [
        bot.count("requests").await,
        bot.count("request_versions").await,
        bot.count("votes").await,
        bot.count("decisions").await,
        bot.count("audit_log").await,
    ]
}

#[sqlx::test]
async fn a_replayed_open_returns_the_same_ref_and_opens_nothing_new(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let ctx = Context {
        idempotency_key: Some("api:open-1".into()),
        ..bot.ctx("alice").await
    };
    let fields = [
        ("amount".to_string(), "10".to_string()),
        ("vendor".to_string(), "X".to_string()),
    ];
    let first = bot.engine.open(&ctx, "invoice", &fields).await.unwrap();
    let before = snapshot(&bot).await;
    let replay = bot.engine.open(&ctx, "invoice", &fields).await.unwrap();
    assert_eq!(first, replay);
    assert_eq!(snapshot(&bot).await, before);
}

#[sqlx::test]
async fn a_replayed_decisive_vote_returns_the_decision_and_writes_nothing(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say("alice", "new invoice amount=10 vendor=X").await;
    let ctx = Context {
        idempotency_key: Some("slack:T0001:action-ts-1".into()),
        ..bot.ctx("carol").await
    };
    let first = bot
        .engine
        .vote(&ctx, "INV-1", Some(1), VoteKind::Approve, None)
        .await
        .unwrap();
    assert!(matches!(&first, Outcome::Voted { request, .. } if request.status.is_final()));
    let before = snapshot(&bot).await;
    for _ in 0..3 {
        let replay = bot
            .engine
            .vote(&ctx, "INV-1", Some(1), VoteKind::Approve, None)
            .await
            .unwrap();
        assert_eq!(
            replay, first,
            "a replay is not refused as already_decided: it is the same answer"
        );
    }
    assert_eq!(snapshot(&bot).await, before);
}

#[sqlx::test]
async fn a_replayed_refusal_is_the_same_refusal_and_is_audited_once(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say("alice", "new invoice amount=10 vendor=X").await;
    let ctx = Context {
        idempotency_key: Some("discord:interaction-9".into()),
        ..bot.ctx("bob").await
    };
    let first = bot
        .engine
        .vote(&ctx, "INV-1", Some(1), VoteKind::Approve, None)
        .await
        .unwrap();
    assert!(first.refusal().is_some());
    let before = snapshot(&bot).await;
    assert_eq!(
        bot.engine
            .vote(&ctx, "INV-1", Some(1), VoteKind::Approve, None)
            .await
            .unwrap(),
        first
    );
    assert_eq!(snapshot(&bot).await, before);
}

#[sqlx::test]
async fn different_keys_are_different_actions(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say("alice", "new invoice amount=12500 vendor=X").await;
    let a = Context {
        idempotency_key: Some("k-1".into()),
        ..bot.ctx("carol").await
    };
    let b = Context {
        idempotency_key: Some("k-2".into()),
        ..bot.ctx("carol").await
    };
    assert!(matches!(
        bot.engine
            .vote(&a, "INV-1", Some(1), VoteKind::Approve, None)
            .await
            .unwrap(),
        Outcome::Voted { .. }
    ));
    let second = bot
        .engine
        .vote(&b, "INV-1", Some(1), VoteKind::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        second.refusal().map(|r| r.reason.to_string()),
        Some("already_voted".to_string())
    );
}

#[sqlx::test]
async fn the_same_open_delivered_eight_times_at_once_opens_one_request(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let ctx = Context {
        idempotency_key: Some("api:open-race".into()),
        ..bot.ctx("alice").await
    };
    let fields = vec![
        ("amount".to_string(), "10".to_string()),
        ("vendor".to_string(), "X".to_string()),
    ];
    let before = snapshot(&bot).await;
    let tries = (0..8).map(|_| {
        let (engine, ctx, fields) = (bot.engine.clone(), ctx.clone(), fields.clone());
        tokio::spawn(async move { engine.open(&ctx, "invoice", &fields).await.unwrap() })
    });
    let outcomes: Vec<Outcome> = futures_util::future::try_join_all(tries).await.unwrap();
    assert!(matches!(&outcomes[0], Outcome::Opened { request } if request.r#ref == "INV-1"));
    assert!(
        outcomes.iter().all(|o| o == &outcomes[0]),
        "every delivery gets the first answer"
    );
    let [requests, versions, votes, decisions, entries] = before;
    assert_eq!(
        snapshot(&bot).await,
        [requests + 1, versions + 1, votes, decisions, entries + 1]
    );
}

#[sqlx::test]
async fn the_same_decisive_vote_delivered_eight_times_at_once_decides_once(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say("alice", "new invoice amount=10 vendor=X").await;
    let ctx = Context {
        idempotency_key: Some("slack:T0001:race-ts".into()),
        ..bot.ctx("carol").await
    };
    let before = snapshot(&bot).await;
    let tries = (0..8).map(|_| {
        let (engine, ctx) = (bot.engine.clone(), ctx.clone());
        tokio::spawn(async move {
            engine
                .vote(&ctx, "INV-1", Some(1), VoteKind::Approve, None)
                .await
                .unwrap()
        })
    });
    let outcomes: Vec<Outcome> = futures_util::future::try_join_all(tries).await.unwrap();
    assert!(matches!(&outcomes[0], Outcome::Voted { request, .. } if request.status.is_final()));
    assert!(
        outcomes.iter().all(|o| o == &outcomes[0]),
        "no delivery is told already_voted or already_decided"
    );
    // One vote and one decision; vote.approve and request.approved.
    let [requests, versions, votes, decisions, entries] = before;
    assert_eq!(
        snapshot(&bot).await,
        [requests, versions, votes + 1, decisions + 1, entries + 2]
    );
    let refusals: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE outcome = 'refused'")
        .fetch_one(bot.engine.pool())
        .await
        .unwrap();
    assert_eq!(refusals, 0, "a replay leaves no trace of its rolled-back attempt");
}
