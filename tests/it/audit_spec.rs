//! The audit log's spec holds from the outside: tools/verify_export.py, written from
//! docs/audit.md alone with Python's standard library, re-computes the chain of a real export
//! (JSON lines and CSV, with non-ASCII text, nulls and nested details) and agrees with
//! `audit verify`; a changed entry in the export is named, and so is a kept checkpoint that an
//! export of a rewritten or shortened chain no longer holds.

use crate::common::Bot;
use countersign::audit::{self, ExportFilter, ExportFormat};
use sqlx::PgPool;
use std::path::Path;
use std::process::Command;

fn verifier(export: &Path) -> (i32, String) {
    verifier_with(export, &[])
}

fn verifier_with(export: &Path, args: &[&Path]) -> (i32, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/verify_export.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(export)
        .args(args)
        .output()
        .expect("python3 runs tools/verify_export.py (install Python 3 to run this test)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

async fn export(bot: &Bot, format: ExportFormat, path: &Path) {
    let mut out = Vec::new();
    audit::export(bot.engine.pool(), format, ExportFilter::default(), &mut out, |_, _| {})
        .await
        .unwrap();
    std::fs::write(path, out).unwrap();
}

#[sqlx::test]
async fn the_independent_verifier_agrees_with_audit_verify_on_both_export_formats(pool: PgPool) {
    let bot = Bot::new(pool).await;
    // Non-ASCII and quotes in values, a refusal (reason set, fields null), system entries
    // (actor null), nested details.
    bot.say(
        "alice",
        r#"new invoice amount=12500.00 vendor="Müller \"Bau\" GmbH — Zürich ✓" cost_center=ops"#,
    )
    .await;
    bot.say("alice", "approve INV-1").await;
    bot.say("carol", "approve INV-1@1").await;
    bot.say("dave", "reject INV-1@1 zu teuer: 12.500 € ist über dem Budget")
        .await;
    let report = audit::verify(bot.engine.pool(), |_, _| {}).await.unwrap();
    let (through, head) = report.sealed_through.clone().expect("the chain has entries");
    let dir = crate::common::tempdir::TempDir::new();
    for (format, name) in [(ExportFormat::Jsonl, "audit.jsonl"), (ExportFormat::Csv, "audit.csv")] {
        let path = dir.path().join(name);
        export(&bot, format, &path).await;
        let (code, said) = verifier(&path);
        assert_eq!(code, 0, "{name}: {said}");
        assert!(
            said.contains(&format!("through #{through} (hash {head})")),
            "{name}: the verifier ends where audit verify does (#{through}, {head}): {said}"
        );
    }
}

#[sqlx::test]
async fn the_independent_verifier_names_a_changed_entry(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say("alice", "new invoice amount=80 vendor=Pens").await;
    bot.say("carol", "approve INV-1").await;
    let dir = crate::common::tempdir::TempDir::new();
    let path = dir.path().join("audit.jsonl");
    export(&bot, ExportFormat::Jsonl, &path).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let victim = lines
        .iter()
        .position(|l| l.contains("vote.approve"))
        .expect("the vote is exported");
    let forged: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == victim {
                l.replace("\"carol\"", "\"mallory\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, forged.join("\n") + "\n").unwrap();
    let (code, said) = verifier(&path);
    assert_eq!(code, 1, "{said}");
    let seq = victim + 1;
    assert!(
        said.contains(&format!("BROKEN: entry #{seq}")) && said.contains("does not match its hash"),
        "{said}"
    );
    // Dropping an entry from the middle breaks the positions.
    let cut: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| *l)
        .collect();
    std::fs::write(&path, cut.join("\n") + "\n").unwrap();
    let (code, said) = verifier(&path);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("expected chain position #2"), "{said}");
}

#[sqlx::test]
async fn the_independent_verifier_holds_an_export_to_the_kept_checkpoints(pool: PgPool) {
    use crate::common::tamper::{behind_the_triggers, reseal_from, seq_of, Key};
    use countersign::engine::checkpoint::Occasion;
    let bot = Bot::new(pool.clone()).await;
    bot.say("alice", "new invoice amount=80 vendor=\"Café ☕\"").await;
    bot.say("carol", "approve INV-1").await;
    let dir = crate::common::tempdir::TempDir::new();
    let key = Key::new(dir.path(), "receipt.pem");
    let signed = bot
        .engine
        .checkpoint(&key.signer, Occasion::Asked)
        .await
        .unwrap()
        .unwrap();
    let kept = dir.path().join("checkpoints.jsonl");
    std::fs::write(&kept, signed.to_line() + "\n").unwrap();
    bot.settle().await;
    let path = dir.path().join("audit.jsonl");
    let flag = Path::new("--checkpoint");
    export(&bot, ExportFormat::Jsonl, &path).await;
    let (code, said) = verifier_with(&path, &[flag, &kept]);
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("OK: 1 of 1 kept checkpoints are in this export"),
        "{said}"
    );

    // Rewritten with every seal recomputed: the export verifies alone, not against the checkpoint.
    let victim = seq_of(&pool, "request.opened", "done").await;
    behind_the_triggers(
        &pool,
        &["UPDATE audit_log SET details = '{}' WHERE id = (SELECT entry_id FROM audit_seal WHERE seq = $1)"],
        victim,
    )
    .await;
    reseal_from(&pool, victim).await;
    export(&bot, ExportFormat::Csv, &dir.path().join("audit.csv")).await;
    let rewritten = dir.path().join("audit.csv");
    assert_eq!(verifier(&rewritten).0, 0);
    let (code, said) = verifier_with(&rewritten, &[flag, &kept]);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains(&format!("checkpoint #{} is not held: the export has hash", signed.seq)),
        "{said}"
    );

    // Cut short before the checkpoint.
    let text = std::fs::read_to_string(&path).unwrap();
    let short: Vec<&str> = text.lines().take(signed.seq as usize - 1).collect();
    std::fs::write(&path, short.join("\n") + "\n").unwrap();
    let (code, said) = verifier_with(&path, &[flag, &kept]);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains(&format!("the chain ends at #{}", signed.seq - 1)),
        "{said}"
    );
}
