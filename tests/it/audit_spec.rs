//! The audit log's spec holds from the outside: tools/verify_export.py, written from
//! docs/audit.md alone with Python's standard library, re-computes the chain of a real export
//! (JSON lines and CSV, with non-ASCII text, nulls and nested details) and agrees with
//! `audit verify`; a changed entry in the export is named.

use crate::common::Bot;
use countersign::audit::{self, ExportFilter, ExportFormat};
use sqlx::PgPool;
use std::path::Path;
use std::process::Command;

fn verifier(export: &Path) -> (i32, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/verify_export.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(export)
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
