//! A checkpoint is signed once per head, however many replicas try at once, and a crash before
//! its transaction commits leaves nothing behind (no row, no entry, no delivery) for the next
//! attempt to duplicate; the server signs on its own, and only when something happened.

use crate::common::tamper::Key;
use crate::common::tempdir::TempDir;
use crate::common::{commands_dir, example_commands, Bot};
use countersign::engine::checkpoint::{spawn_checkpointer, Occasion};
use sqlx::PgPool;
use std::time::Duration;

async fn story(bot: &Bot) {
    bot.say("alice", "new invoice amount=12500.00 vendor=ACME").await;
    bot.say("carol", "approve INV-1").await;
    bot.say("dave", "approve INV-1").await;
    bot.settle().await;
}

/// The example commands with a receiver subscribed to checkpoints.
fn with_a_checkpoint_webhook() -> TempDir {
    let mut invoice = std::fs::read_to_string(example_commands().join("invoice.toml")).unwrap();
    invoice.push_str(
        "\n[[webhook]]\nurl = \"https://siem.example.test/hooks/countersign\"\nevents = [\"audit.checkpoint\"]\n",
    );
    let people = std::fs::read_to_string(example_commands().join("people.toml")).unwrap();
    commands_dir(&[("people.toml", &people), ("invoice.toml", &invoice)])
}

/// Checkpoint rows, `audit.checkpoint` entries and queued checkpoint deliveries.
async fn kept(pool: &PgPool) -> (i64, i64, i64) {
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(pool);
    (
        count("SELECT count(*) FROM audit_checkpoints").await.unwrap(),
        count("SELECT count(*) FROM audit_log WHERE action = 'audit.checkpoint' AND outcome = 'done'")
            .await
            .unwrap(),
        count("SELECT count(*) FROM outbox WHERE intent->>'kind' = 'checkpoint'")
            .await
            .unwrap(),
    )
}

#[sqlx::test]
async fn replicas_signing_at_once_keep_one_checkpoint_one_entry_and_one_delivery(pool: PgPool) {
    let mut invoice = std::fs::read_to_string(example_commands().join("invoice.toml")).unwrap();
    invoice.push_str(
        "\n[[webhook]]\nurl = \"https://siem.example.test/hooks/countersign\"\nevents = [\"audit.checkpoint\"]\n",
    );
    let people = std::fs::read_to_string(example_commands().join("people.toml")).unwrap();
    let dir = commands_dir(&[("people.toml", &people), ("invoice.toml", &invoice)]);
    let replicas = [
        Bot::with_commands(pool.clone(), dir.path()).await,
        Bot::with_commands(pool.clone(), dir.path()).await,
    ];
    story(&replicas[0]).await;
    let keys = TempDir::new();
    let key = Key::new(keys.path(), "receipt.pem");
    let attempts = (0..8).map(|i| replicas[i % 2].engine.checkpoint(&key.signer, Occasion::Asked));
    let signed: Vec<_> = futures_util::future::join_all(attempts).await;
    let seqs: Vec<i64> = signed.into_iter().map(|c| c.unwrap().unwrap().seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] == w[1]),
        "every attempt gives the one checkpoint: {seqs:?}"
    );
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool);
    assert_eq!(count("SELECT count(*) FROM audit_checkpoints").await.unwrap(), 1);
    assert_eq!(
        count("SELECT count(*) FROM audit_log WHERE action = 'audit.checkpoint'")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        count("SELECT count(*) FROM outbox WHERE intent->>'kind' = 'checkpoint'")
            .await
            .unwrap(),
        1
    );
}

#[sqlx::test]
async fn the_server_signs_a_checkpoint_on_its_own_only_when_something_happened(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let keys = TempDir::new();
    let key = Key::new(keys.path(), "receipt.pem");
    let tasks = tokio_util::task::TaskTracker::new();
    let stop = tokio_util::sync::CancellationToken::new();
    spawn_checkpointer(
        &tasks,
        bot.engine.clone(),
        Some(key.signer.clone()),
        Duration::from_secs(1),
        stop.clone(),
    );
    let kept = || sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_checkpoints").fetch_one(&pool);
    for _ in 0..100 {
        if kept().await.unwrap() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(kept().await.unwrap(), 1, "signed within a second or two of the start");
    // Two more intervals with nothing new but its own entry: no second checkpoint.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert_eq!(kept().await.unwrap(), 1);
    stop.cancel();
    tasks.close();
    tasks.wait().await;
}

#[sqlx::test]
async fn a_crash_before_the_checkpoint_commits_leaves_nothing_and_the_retry_signs_once(pool: PgPool) {
    let dir = with_a_checkpoint_webhook();
    let bot = Bot::with_commands(pool.clone(), dir.path()).await;
    story(&bot).await;
    let keys = TempDir::new();
    let key = Key::new(keys.path(), "receipt.pem");
    // The first commit of a checkpoint fails, as if the process died between the sealing pass's
    // commit and its own: a sequence is not rolled back, so it fails once.
    crate::common::tamper::crash_once_at_commit(&pool, "audit_checkpoints").await;
    let crashed = bot.engine.checkpoint(&key.signer, Occasion::Asked).await;
    assert!(format!("{:#}", crashed.unwrap_err()).contains("the process died"));
    assert_eq!(kept(&pool).await, (0, 0, 0), "nothing of the checkpoint survives");
    bot.assert_chain_holds().await;

    let signed = bot
        .engine
        .checkpoint(&key.signer, Occasion::Asked)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept(&pool).await, (1, 1, 1));
    let again = bot
        .engine
        .checkpoint(&key.signer, Occasion::Asked)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, signed);
    assert_eq!(kept(&pool).await, (1, 1, 1));
}

#[sqlx::test]
async fn without_a_key_the_background_round_still_verifies_and_counts_a_broken_chain(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let broken = || {
        let text = countersign::metrics::install().render();
        crate::common::exposition::value(&text, "countersign_audit_checkpoints_total{result=\"broken\"}")
            .unwrap_or_default()
    };
    let before = broken();
    crate::common::tamper::behind_the_triggers(
        &pool,
        &["UPDATE audit_log SET actor = 'mallory' WHERE id = (SELECT entry_id FROM audit_seal WHERE seq = $1)"],
        2,
    )
    .await;
    let tasks = tokio_util::task::TaskTracker::new();
    let stop = tokio_util::sync::CancellationToken::new();
    spawn_checkpointer(&tasks, bot.engine.clone(), None, Duration::from_secs(1), stop.clone());
    for _ in 0..100 {
        if broken() > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(broken() > before, "the round found the changed entry and counted it");
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_checkpoints")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kept, 0, "nothing is signed without a key");
}
