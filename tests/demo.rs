//! The quick start's demo and the console REPL, run as the binary a person would run.

mod common;

use common::{example_commands, url_of};
use sqlx::PgPool;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn the_demo_tells_the_whole_story_and_can_be_run_again() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL must point at a Postgres server");
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
            "Still needed: 1 of 1 finance-approver, 0 of 1 finance-director.",
            "Your approval completed INV-1: it is approved.",
            "-> to Alice Analyst (direct message): Your request INV-1 (Invoice payment) was approved by Carol Approver and Dave Director",
            "request.approved v1 done",
            "OK: ",
        ] {
            assert!(text.contains(expected), "run {run}: missing {expected:?} in\n{text}");
        }
    }
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
    assert!(text.contains("| amount: 99.50 EUR"), "{text}");
    assert!(text.contains("You are Alice Analyst (alice)"), "{text}");
    assert!(
        text.contains("INV-1  Invoice payment 99.50 EUR  by Alice Analyst"),
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
