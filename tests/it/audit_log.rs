//! The audit log: append-only in the database, hash-chained, verified, exported.

use crate::common::{url_of, Bot};
use countersign::audit::{self, ExportFilter, ExportFormat, Problem};
use countersign::clock::Clock;
use sqlx::{Connection, PgPool};
use std::process::Command;

async fn story(bot: &Bot) {
    bot.say("alice", "new invoice amount=12500.00 vendor=ACME").await;
    bot.say("bob", "approve INV-1").await;
    bot.say("carol", "approve INV-1").await;
    bot.say("dave", "approve INV-1").await;
    bot.settle().await;
}

/// Runs `sql` as a superuser with the triggers switched off, as an attacker with database
/// access would.
async fn behind_the_triggers(pool: &PgPool, sql: &str) {
    let mut conn = pool.acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn seq_of(pool: &PgPool, action: &str) -> i64 {
    sqlx::query_scalar("SELECT s.seq FROM audit_seal s JOIN audit_log a ON a.id = s.entry_id WHERE a.action = $1 ORDER BY s.seq LIMIT 1")
        .bind(action)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn the_database_refuses_update_delete_and_truncate_of_the_log(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    for sql in [
        "UPDATE audit_log SET reason = 'nothing to see' WHERE id = 1",
        "DELETE FROM audit_log WHERE id = 1",
        "TRUNCATE audit_log CASCADE",
        "UPDATE audit_seal SET hash = 'x' WHERE seq = 1",
        "DELETE FROM audit_seal",
        "TRUNCATE audit_seal",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.expect_err(sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    bot.assert_chain_holds().await;
}

#[sqlx::test]
async fn a_changed_entry_is_caught_with_its_chain_position(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let seq = seq_of(&pool, "vote.approve").await;
    behind_the_triggers(
        &pool,
        "UPDATE audit_log SET actor = 'carol' WHERE action = 'vote.approve' AND outcome = 'refused'",
    )
    .await;
    let report = audit::verify(&pool, |_, _| {}).await.unwrap();
    assert_eq!(report.first_bad, Some((seq, Problem::HashMismatch)));
    assert_eq!(report.checked as i64, seq - 1, "every entry before it verifies");
}

#[sqlx::test]
async fn a_deleted_entry_or_seal_is_caught(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let seq = seq_of(&pool, "request.approved").await;
    behind_the_triggers(&pool, "DELETE FROM audit_log WHERE action = 'request.approved'").await;
    let report = audit::verify(&pool, |_, _| {}).await.unwrap();
    assert!(
        matches!(report.first_bad, Some((s, Problem::MissingEntry { .. })) if s == seq),
        "{report:?}"
    );

    behind_the_triggers(&pool, "DELETE FROM audit_seal WHERE seq = 3").await;
    let report = audit::verify(&pool, |_, _| {}).await.unwrap();
    assert_eq!(report.first_bad, Some((3, Problem::MissingSeq { expected: 3 })));
}

#[sqlx::test]
async fn an_entry_slipped_in_behind_the_sealer_is_caught(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    behind_the_triggers(
        &pool,
        "INSERT INTO audit_log (txid, at, action, outcome) VALUES ('3'::xid8, now(), 'request.approved', 'done')",
    )
    .await;
    let report = audit::verify(&pool, |_, _| {}).await.unwrap();
    assert!(
        matches!(report.first_bad, Some((_, Problem::UnsealedOldEntries { count: 1 }))),
        "{report:?}"
    );
}

#[sqlx::test]
async fn entries_of_an_open_transaction_wait_and_are_sealed_once_it_commits(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    let mut slow = pool.begin().await.unwrap();
    let e = audit::NewEntry::new(bot.clock.now(), audit::Action::DigestSent, audit::AuditOutcome::Done);
    countersign::store::effects::append(&mut slow, e.row()).await.unwrap();
    bot.engine
        .open(
            &bot.ctx("alice").await,
            "invoice",
            &[("amount".into(), "10".into()), ("vendor".into(), "X".into())],
        )
        .await
        .unwrap();
    audit::seal(&pool).await.unwrap();
    let report = audit::verify(&pool, |_, _| {}).await.unwrap();
    assert!(report.is_ok());
    assert!(
        report.unsealed >= 1,
        "the open transaction holds back the entries after it: {report:?}"
    );
    slow.commit().await.unwrap();
    bot.assert_chain_holds().await;
}

#[sqlx::test]
async fn concurrent_sealers_never_seal_an_entry_twice(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    let writers = (0..10).map(|_| {
        let engine = bot.engine.clone();
        async move {
            let ctx =
                countersign::engine::Context::new(countersign::chat::console::actor(&engine, "alice").await.unwrap());
            engine
                .open(
                    &ctx,
                    "invoice",
                    &[("amount".into(), "1".into()), ("vendor".into(), "V".into())],
                )
                .await
                .unwrap();
        }
    });
    let sealers = (0..4).map(|_| {
        let pool = pool.clone();
        async move {
            for _ in 0..5 {
                audit::seal(&pool).await.unwrap();
            }
        }
    });
    futures_util::future::join(
        futures_util::future::join_all(writers),
        futures_util::future::join_all(sealers),
    )
    .await;
    bot.assert_chain_holds().await;
    let (entries, seals): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM audit_seal)")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(entries, seals);
}

#[sqlx::test]
async fn the_export_carries_every_formal_field(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let mut out = Vec::new();
    let n = audit::export(&pool, ExportFormat::Jsonl, ExportFilter::default(), &mut out, |_, _| {})
        .await
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, n);
    let keys = [
        "seq",
        "at",
        "actor",
        "identity",
        "action",
        "ref",
        "version",
        "rule",
        "policy_hash",
        "outcome",
        "reason",
        "details",
        "prev_hash",
        "hash",
    ];
    for (i, l) in lines.iter().enumerate() {
        for k in keys {
            assert!(l.get(k).is_some(), "line {i} lacks {k}: {l}");
        }
        assert_eq!(l["seq"], i as i64 + 1);
        if i > 0 {
            assert_eq!(l["prev_hash"], lines[i - 1]["hash"]);
        }
    }
    let refused = lines.iter().find(|l| l["outcome"] == "refused").unwrap();
    assert_eq!(refused["reason"], "not_permitted");
    assert_eq!(refused["identity"], "console:bob");
    assert_eq!(refused["rule"], "large");

    let mut csv = Vec::new();
    audit::export(&pool, ExportFormat::Csv, ExportFilter::default(), &mut csv, |_, _| {})
        .await
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("seq,id,at,actor,identity,action,ref,version,rule,policy_hash,outcome,reason,details"));
    assert_eq!(csv.lines().count() as u64, n + 1);
}

#[sqlx::test]
async fn the_export_filters_by_time(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    bot.say("alice", "new invoice amount=1 vendor=early").await;
    bot.clock.advance(chrono::TimeDelta::days(2));
    bot.say("alice", "new invoice amount=1 vendor=late").await;
    let since = bot.clock.now() - chrono::TimeDelta::hours(1);
    let mut out = Vec::new();
    let n = audit::export(
        &pool,
        ExportFormat::Jsonl,
        ExportFilter {
            since: Some(since),
            until: None,
        },
        &mut out,
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    assert!(String::from_utf8(out).unwrap().contains("INV-2"));
}

#[sqlx::test]
async fn audit_verify_on_the_command_line_exits_1_naming_the_bad_entry(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let bin = env!("CARGO_BIN_EXE_countersign");
    let ok = Command::new(bin)
        .args(["audit", "verify"])
        .env("DATABASE_URL", url_of(&pool))
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("OK: "));
    let seq = seq_of(&pool, "request.opened").await;
    behind_the_triggers(
        &pool,
        "UPDATE audit_log SET details = '{\"fields\": {\"amount\": \"1.00 EUR\"}}' WHERE action = 'request.opened'",
    )
    .await;
    let bad = Command::new(bin)
        .args(["audit", "verify"])
        .env("DATABASE_URL", url_of(&pool))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let said = String::from_utf8_lossy(&bad.stdout);
    assert!(said.contains(&format!("BROKEN at entry #{seq}")), "{said}");

    let show = Command::new(bin)
        .args(["audit", "show", "inv-1"])
        .env("DATABASE_URL", url_of(&pool))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&show.stdout).contains("request.approved"));
    let export = Command::new(bin)
        .args(["audit", "export", "--format", "csv", "--since", "2026-01-01"])
        .env("DATABASE_URL", url_of(&pool))
        .output()
        .unwrap();
    assert!(export.status.success());
    assert!(String::from_utf8_lossy(&export.stderr).contains("Exported"));
}

#[sqlx::test]
async fn an_auditor_can_recompute_every_hash_from_the_export_alone(pool: PgPool) {
    use sha2::{Digest, Sha256};
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    bot.say("alice", "new invoice amount=7 vendor=\"Ünïcode “quotes” & émojis 🎉\"")
        .await;
    bot.settle().await;
    let mut out = Vec::new();
    audit::export(&pool, ExportFormat::Jsonl, ExportFilter::default(), &mut out, |_, _| {})
        .await
        .unwrap();
    let mut prev = "0".repeat(64);
    for line in String::from_utf8(out).unwrap().lines() {
        let mut entry: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).unwrap();
        let hash = entry.remove("hash").unwrap();
        assert_eq!(entry.remove("prev_hash").unwrap(), prev.as_str());
        let canonical = serde_json::Value::Object(entry).to_string();
        let recomputed = hex::encode(Sha256::digest(format!("{prev}\n{canonical}")));
        assert_eq!(hash, recomputed.as_str(), "{line}");
        prev = recomputed;
    }
}
