//! `countersign serve --help` is the list of settings: docs/operations.md's table and
//! deploy/countersign.env.example name the same variables, and no secret's value is printed.

use std::collections::BTreeSet;
use std::process::Command;

/// The variables named as `[env: NAME` in `serve --help`.
fn variables_in_help(help: &str) -> BTreeSet<String> {
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(str::to_owned)
        .collect()
}

/// The upper-case names in backticks in the first column of the table under `## Configure`.
fn variables_in_docs(doc: &str) -> BTreeSet<String> {
    let section = doc
        .split("\n## Configure")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/operations.md has a Configure section");
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect()
}

/// The variables set, or shown commented out, in the example env file.
fn variables_in_env_example(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| l.trim_start_matches('#').trim_start())
        .filter_map(|l| l.split_once('='))
        .map(|(name, _)| name)
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(str::to_owned)
        .collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn serve_help_the_operations_table_and_the_env_example_name_the_same_variables() {
    let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = variables_in_help(&String::from_utf8_lossy(&out.stdout));
    let docs = variables_in_docs(&read("docs/operations.md"));
    assert!(
        help.contains("SLACK_BOT_TOKEN") && help.contains("DATABASE_URL"),
        "{help:?}"
    );
    assert_eq!(
        help, docs,
        "`countersign serve --help` and docs/operations.md's settings table disagree"
    );
    let example = variables_in_env_example(&read("deploy/countersign.env.example"));
    assert_eq!(
        example, docs,
        "deploy/countersign.env.example and docs/operations.md disagree"
    );
}

#[test]
fn serve_help_never_prints_a_secret() {
    let secrets = [
        ("DATABASE_URL", "postgres://bot:db-pass-7@db/x"),
        ("SLACK_SIGNING_SECRET", "slack-signing-7"),
        ("SLACK_BOT_TOKEN", "xoxb-bot-7"),
        ("SLACK_APP_TOKEN", "xapp-app-7"),
        ("DISCORD_BOT_TOKEN", "discord-bot-7"),
        ("COUNTERSIGN_API_JWT_SECRET", "jwt-secret-7"),
        ("COUNTERSIGN_RECEIPT_KEY", "receipt-key-7.pem"),
    ];
    for args in [
        &["serve", "--help"][..],
        &["token", "issue", "--help"],
        &["digest", "send", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
            .args(args)
            .envs(secrets)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        for (name, value) in secrets {
            assert!(
                args[0] != "serve" || help.contains(name),
                "serve --help does not name {name}"
            );
            assert!(!help.contains(value), "{args:?} printed the value of {name}");
        }
    }
}
