//! The `countersign` binary: help everywhere, `check`'s refusals, `explain`, and the generated
//! workflow docs staying in step with commands/.

use crate::common::{commands_dir, example_commands};
use countersign::policy::{explain_markdown, PolicySet};
use std::path::Path;
use std::process::{Command, Output};

fn countersign(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("COUNTERSIGN_COMMANDS")
        .output()
        .unwrap()
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        &["--help"][..],
        &["migrate", "--help"],
        &["check", "--help"],
        &["explain", "--help"],
        &["demo", "--help"],
        &["console", "--help"],
        &["audit", "--help"],
        &["audit", "verify", "--help"],
        &["audit", "export", "--help"],
        &["audit", "show", "--help"],
        &["token", "--help"],
        &["token", "issue", "--help"],
        &["serve", "--help"],
        &["digest", "--help"],
        &["discord", "--help"],
    ] {
        let out = countersign(args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: countersign"),
            "{args:?}"
        );
    }
}

#[test]
fn the_database_url_is_never_echoed_in_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["--help"])
        .env("DATABASE_URL", "postgres://bot:hunter2@db/x")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));
}

#[test]
fn the_example_commands_pass_check() {
    let dir = example_commands();
    let out = countersign(&["check", "--commands", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 workflows, 10 people and 3 services, all valid"));
}

/// A valid directory with one file replaced by `broken`.
fn broken(name: &str, text: &str) -> crate::common::tempdir::TempDir {
    let mut files: Vec<(String, String)> = std::fs::read_dir(example_commands())
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .filter(|(n, _)| n != name)
        .collect();
    files.push((name.to_string(), text.to_string()));
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    commands_dir(&refs)
}

fn invoice_with(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(example_commands().join("invoice.toml")).unwrap();
    assert!(text.contains(from), "invoice.toml lacks {from:?}");
    text.replacen(from, to, 1)
}

fn people_with(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(example_commands().join("people.toml")).unwrap();
    assert!(text.contains(from), "people.toml lacks {from:?}");
    text.replacen(from, to, 1)
}

/// Runs check and returns stderr, asserting exit 1.
fn check_fails(dir: &Path) -> String {
    let out = countersign(&["check", "--commands", dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "check should fail:\n{err}");
    err
}

/// The first line naming `file` in check's output, as `file:line:col: message`.
fn problem_in(err: &str, file: &str) -> (usize, usize, String) {
    let marker = format!("{file}:");
    let line = err
        .lines()
        .find(|l| {
            l.find(&marker)
                .is_some_and(|i| l[i + marker.len()..].starts_with(|c: char| c.is_ascii_digit()))
        })
        .unwrap_or_else(|| panic!("no problem in {file}:\n{err}"));
    let rest = &line[line.find(&marker).unwrap() + marker.len()..];
    let mut parts = rest.splitn(3, ':');
    let l = parts.next().unwrap().parse().unwrap();
    let c = parts.next().unwrap().parse().unwrap();
    (l, c, parts.next().unwrap().trim().to_string())
}

#[test]
fn check_refuses_each_kind_of_mistake_with_its_position() {
    let invoice = std::fs::read_to_string(example_commands().join("invoice.toml")).unwrap();
    let line_of = |needle: &str| invoice.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let cases: Vec<(&str, String, usize, &str)> = vec![
        (
            "invoice.toml",
            invoice_with("max_length = 120", "max_lenght = 120"),
            line_of("max_length = 120"),
            "max_lenght",
        ),
        (
            "invoice.toml",
            invoice_with(
                "\"finance-director\", \"auditor\"]",
                "\"finance-directr\", \"auditor\"]",
            ),
            line_of("view    ="),
            "finance-directr",
        ),
        (
            "invoice.toml",
            invoice_with("owner = \"finance-ops\"", "owner = \"finance-opz\""),
            line_of("owner ="),
            "finance-opz",
        ),
        (
            "invoice.toml",
            invoice_with(
                "owner = \"finance-ops\"            # a team from people.toml; required\n",
                "",
            ),
            1,
            "owner",
        ),
        (
            "invoice.toml",
            invoice_with("when = \"amount >= 10000\"", "when = \"amount >= \""),
            line_of("when = "),
            "found the end of the condition",
        ),
        (
            "invoice.toml",
            invoice_with("when = \"amount >= 10000\"", "when = \"vendor >= 10000\""),
            line_of("when = "),
            "vendor",
        ),
        (
            "invoice.toml",
            invoice_with("when = \"amount >= 10000\"", "when = \"amount >= 10000.001\""),
            line_of("when = "),
            "decimal",
        ),
        (
            "invoice.toml",
            invoice_with("name = \"standard\"\n", "name = \"standard\"\nwhen = \"amount < 5\"\n"),
            line_of("name = \"standard\"") + 1,
            "last rule",
        ),
        (
            "invoice.toml",
            invoice_with("prefix = \"INV\"", "prefix = \"PO\""),
            0,
            "prefix `PO` is used by both",
        ),
        (
            "people.toml",
            people_with("slack = [\"T0001/U0ALICE\"]", "slack = [\"U0ALICE\"]"),
            0,
            "workspace",
        ),
    ];
    for (file, text, line, words) in cases {
        let dir = broken(file, &text);
        let err = check_fails(dir.path());
        let reported = if words.starts_with("prefix") {
            "purchase-order.toml"
        } else {
            file
        };
        let (l, c, message) = problem_in(&err, reported);
        assert!(c >= 1, "{err}");
        if line > 0 {
            assert_eq!(l, line, "{words}: wrong line in\n{err}");
        }
        assert!(
            message.to_lowercase().contains(&words.to_lowercase()),
            "expected {words:?} in {message:?}\n{err}"
        );
    }
}

#[test]
fn explain_states_the_rules_with_currency_and_people() {
    let dir = example_commands();
    let out = countersign(&["explain", "invoice", "--commands", dir.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("amount is at least 10,000.00 EUR"), "{text}");
    assert!(
        text.contains("The requester can never approve their own request"),
        "{text}"
    );
    assert!(text.contains("expires after 72 hours"), "{text}");
    let missing = countersign(&["explain", "payroll", "--commands", dir.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no workflow \"payroll\""));
}

#[test]
fn the_workflow_docs_match_commands() {
    let policy = PolicySet::load(&example_commands()).unwrap();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/workflows");
    for wf in policy.workflows.values() {
        let path = docs.join(format!("{}.md", wf.id));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == explain_markdown(wf, &policy.directory),
            "{} is out of date with commands/{}.toml: regenerate it with\n  countersign explain {} --format markdown > docs/workflows/{}.md",
            path.display(),
            wf.id,
            wf.id,
            wf.id
        );
    }
    let documented = std::fs::read_dir(&docs).unwrap().count();
    assert_eq!(
        documented,
        policy.workflows.len(),
        "docs/workflows has a page for a workflow that no longer exists"
    );
}

#[test]
fn commands_that_need_a_database_say_how_to_get_one() {
    let out = countersign(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DATABASE_URL is not set") && err.contains("scripts/with-postgres"),
        "{err}"
    );
}

#[test]
fn a_team_that_owns_a_workflow_must_say_where_its_digest_goes() {
    let people = people_with(
        "[team.platform-security.digest]\ncron = \"0 30 8 * * *\"                  # every day at 08:30 UTC\ntimezone = \"UTC\"\ndm_members = true\n",
        "",
    );
    let dir = broken("people.toml", &people);
    let err = check_fails(dir.path());
    let (_, _, message) = problem_in(&err, "prod-access.toml");
    assert!(
        message.contains("team `platform-security` owns this workflow but has no digest"),
        "{message}"
    );
}

/// `countersign token issue` with COUNTERSIGN_API_JWT_SECRET set to `secret` (or unset).
fn token_issue(secret: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_countersign"));
    cmd.args([
        "--commands",
        concat!(env!("CARGO_MANIFEST_DIR"), "/commands"),
        "token",
        "issue",
    ])
    .args(args)
    .env_remove("COUNTERSIGN_API_JWT_SECRET");
    if let Some(s) = secret {
        cmd.env("COUNTERSIGN_API_JWT_SECRET", s);
    }
    cmd.output().unwrap()
}

#[test]
fn token_issue_mints_a_token_the_api_accepts_and_refuses_what_it_would_not() {
    let secret = "a-test-secret-that-is-long-enough-1234567890";
    let out = token_issue(Some(secret), &["--sub", "grace", "--ttl", "30m"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap();
    let auth = countersign::api::ApiAuth::new(Some(secret), None).unwrap();
    let claims = auth
        .verify(Some(&format!("Bearer {}", token.trim())), chrono::Utc::now())
        .unwrap();
    assert_eq!(claims.sub, "grace");
    assert!((claims.exp - claims.iat.unwrap() - 1800.0).abs() < 1.0);

    for (secret, args, expected) in [
        (None, &["--sub", "grace"][..], "COUNTERSIGN_API_JWT_SECRET is not set"),
        (Some("short"), &["--sub", "grace"], "too short"),
        (
            Some(secret),
            &["--sub", "mallory"],
            "`mallory` is not a person or service",
        ),
        (Some(secret), &["--sub", "grace", "--ttl", "soon"], "is not a duration"),
    ] {
        let out = token_issue(secret, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: a token was printed");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn check_names_an_unterminated_string_as_such() {
    let dir = broken(
        "invoice.toml",
        &invoice_with("title = \"Invoice payment\"", "title = \"Invoice payment"),
    );
    let (_, _, message) = problem_in(&check_fails(dir.path()), "invoice.toml");
    assert!(message.starts_with("unterminated string"), "{message}");
}

#[test]
fn check_shows_the_line_at_fault_under_each_problem() {
    let dir = broken("invoice.toml", &invoice_with("max_length = 120", "max_lenght = 120"));
    let err = check_fails(dir.path());
    let lines: Vec<&str> = err.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("invoice.toml:") && l.contains("max_lenght"))
        .unwrap_or_else(|| panic!("no problem line in\n{err}"));
    let source = lines.get(at + 2).copied().unwrap_or_default();
    let underline = lines.get(at + 3).copied().unwrap_or_default();
    assert!(source.ends_with("| max_lenght = 120"), "{err}");
    let column = |l: &str, pat: &str| l.find(pat).unwrap();
    assert_eq!(
        column(underline, "^^^^^^^^^^"),
        column(source, "max_lenght"),
        "the caret underlines the key:\n{err}"
    );
}

#[test]
fn check_suggests_the_money_limit_that_was_written_quoted() {
    let dir = broken("invoice.toml", &invoice_with("max = \"250000.00\"", "max = 250000.50"));
    let (_, _, message) = problem_in(&check_fails(dir.path()), "invoice.toml");
    assert!(message.contains(r#"max = "250000.50""#), "{message}");
    assert!(!message.contains("0.01"), "{message}");
}

#[test]
fn a_missing_people_file_is_one_problem_not_one_per_workflow() {
    let files: Vec<(String, String)> = ["invoice.toml", "prod-access.toml", "purchase-order.toml"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                std::fs::read_to_string(example_commands().join(n)).unwrap(),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let dir = commands_dir(&refs);
    let err = check_fails(dir.path());
    let problems: Vec<&str> = err.lines().filter(|l| l.contains(".toml:")).collect();
    assert_eq!(problems.len(), 1, "{err}");
    assert!(problems[0].contains("people.toml is missing"), "{err}");
}

#[test]
fn check_without_a_commands_directory_is_an_error_not_a_verdict() {
    let empty = crate::common::tempdir::TempDir::new();
    let missing = empty.path().join("commands");
    let out = countersign(&["check", "--commands", missing.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no commands directory") && err.contains("--commands"),
        "{err}"
    );
}

#[test]
fn a_reader_that_stops_early_is_a_normal_end() {
    let dir = example_commands();
    let mut child = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["explain", "--commands", dir.to_str().unwrap()])
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end at once, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");
}
