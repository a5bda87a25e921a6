//! The quick start's demo and the console REPL, run as the binary a person would run.

use crate::common::{example_commands, url_of};
use sqlx::PgPool;
use std::io::Write;
use std::process::{Command, Stdio};

/// One test, because every run of the demo recreates the same database.
#[test]
fn the_demo_tells_the_whole_story_can_be_run_again_and_ends_with_a_console_on_its_data() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL must point at a Postgres server");
    let mut last = String::new();
    for run in 1..=2 {
        let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
            .arg("demo")
            .env("DATABASE_URL", &url)
            .env("COUNTERSIGN_COMMANDS", example_commands())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "run {run}: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        for expected in [
            "Request INV-1 opened.",
            "Refused: You cannot approve your own request INV-1.",
            "Refused: You cannot vote on INV-1: that needs the role finance-approver or finance-director, and you hold analyst.",
            "Still needed: 1 finance-director.",
            "finance-director: waiting for Dave Director",
            "Your approval completed INV-1: it is approved.",
            "-> slack, channel C0FINANCE: INV-1 · 12,500.00 EUR · ACME GmbH · from Alice Analyst",
            "-> slack, direct message to Dave Director: INV-1",
            "-> slack, direct message to Alice Analyst: Your request INV-1 (Invoice payment) was approved by Carol Approver and Dave Director",
            "request.approved v1 done",
            "OK: ",
            "OK: requests, votes and decisions agree with the audit log.",
        ] {
            assert!(text.contains(expected), "run {run}: missing {expected:?} in\n{text}");
        }
        last = text.into_owned();
    }
    let line = last
        .lines()
        .find(|l| l.trim_start().starts_with("scripts/countersign "))
        .unwrap_or_else(|| panic!("no console command at the end of\n{last}"));
    // The command as printed, run as the binary the script would run, with no DATABASE_URL set.
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    assert!(args.contains(&"console"), "{line}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(&args)
        .env_remove("DATABASE_URL")
        .env("COUNTERSIGN_COMMANDS", example_commands())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"list all\n").unwrap();
    let console = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&console.stdout);
    assert!(console.status.success(), "{}", String::from_utf8_lossy(&console.stderr));
    assert!(
        said.contains("INV-1  Invoice payment  12,500.00 EUR · ACME GmbH · ops"),
        "{said}"
    );
}

#[test]
fn the_demo_never_prints_a_password_of_the_database_url() {
    let shown = countersign::cli::try_it_yourself("postgres://bot:hunter2@db.internal:5432/postgres");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("postgres://bot:PASSWORD@db.internal:5432/countersign_demo"),
        "{shown}"
    );
}

#[sqlx::test]
async fn the_console_reads_commands_from_standard_input(pool: PgPool) {
    countersign::store::migrate(&pool).await.unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["console", "--as", "alice"])
        .env("DATABASE_URL", url_of(&pool))
        .env("COUNTERSIGN_COMMANDS", example_commands())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"/approval new invoice amount=99.50 vendor=\"Pens & Co\"\nwhoami\n# a comment\n\nlist mine\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Request INV-1 opened."), "{text}");
    assert!(text.contains("| Amount: 99.50 EUR"), "{text}");
    assert!(text.contains("You are Alice Analyst (alice)"), "{text}");
    assert!(
        text.contains("INV-1  Invoice payment  99.50 EUR · Pens & Co  by Alice Analyst"),
        "{text}"
    );

    let stranger = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["console", "--as", "mallory"])
        .env("DATABASE_URL", url_of(&pool))
        .env("COUNTERSIGN_COMMANDS", example_commands())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(stranger.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&stranger.stderr).contains("\"mallory\" is not a person in people.toml"));
}
