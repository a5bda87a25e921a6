//! Unit tests of the policy module, with helpers that write small commands/ directories.

mod effect_refusals;
mod examples;
mod excerpts;
mod exprs;
mod input;
mod integration_refusals;
mod money;
mod people_refusals;
mod roundtrip;
mod workflow_refusals;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::policy::{CheckError, PolicySet};

/// The example commands/ directory: `COUNTERSIGN_COMMANDS_DIR` at compile time when set
/// (for building this module outside its crate), else the crate's own `commands/`.
pub(super) fn commands_dir() -> PathBuf {
    match option_env!("COUNTERSIGN_COMMANDS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("commands"),
    }
}

/// The example policy, loaded.
pub(super) fn examples() -> PolicySet {
    match PolicySet::load(&commands_dir()) {
        Ok(set) => set,
        Err(errors) => panic!("the examples do not load: {errors:#?}"),
    }
}

/// A scratch directory under the system temp dir, removed on drop.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("countersign-policy-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).expect("write temp file");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small directory for refusal tests: two approvers, one director, a requester.
pub(super) const PEOPLE: &str = r#"[[person]]
id = "ann"
name = "Ann"
roles = ["requester"]
slack = ["T1/UANN"]

[[person]]
id = "ben"
name = "Ben"
roles = ["approver"]

[[person]]
id = "cat"
name = "Cat"
roles = ["approver", "director"]

[team.ops]
members = ["ann"]

[team.ops.digest]
cron = "0 0 9 * * Mon-Fri"
timezone = "Europe/Berlin"
dm_members = true
"#;

/// A valid workflow for refusal tests; tests replace parts of it.
pub(super) const FLOW: &str = r#"id = "flow"
title = "Flow"
prefix = "FL"
owner = "ops"

[fields.amount]
type = "money"
currency = "EUR"
required = true

[access]
request = ["requester"]

[[rule]]
name = "big"
when = "amount >= 100"
approvals = [{ role = "approver", count = 2 }]

[[rule]]
name = "small"
approvals = [{ role = "approver", count = 1 }]
"#;

/// Loads a directory of the given files and returns its problems (panics if it loads).
pub(super) fn refusals(files: &[(&str, &str)]) -> Vec<CheckError> {
    let dir = TempDir::new();
    for (name, text) in files {
        dir.write(name, text);
    }
    match PolicySet::load(dir.path()) {
        Ok(_) => panic!("expected refusals, but the directory loaded"),
        Err(errors) => errors,
    }
}

/// Loads a directory that must be valid.
pub(super) fn loads(files: &[(&str, &str)]) -> PolicySet {
    let dir = TempDir::new();
    for (name, text) in files {
        dir.write(name, text);
    }
    match PolicySet::load(dir.path()) {
        Ok(set) => set,
        Err(errors) => panic!("expected the directory to load: {errors:#?}"),
    }
}

/// Asserts that exactly one problem is reported, in `file` at `line:col`, mentioning `text`.
pub(super) fn assert_one(errors: &[CheckError], file: &str, line: usize, col: usize, text: &str) {
    assert_eq!(errors.len(), 1, "expected one problem, got {errors:#?}");
    assert_at(errors, file, line, col, text);
}

/// Asserts that a problem is reported in `file` at `line:col`, mentioning `text`.
pub(super) fn assert_at(errors: &[CheckError], file: &str, line: usize, col: usize, text: &str) {
    let found = errors.iter().any(|e| {
        e.file.file_name().is_some_and(|n| n == file) && e.line == line && e.col == col && e.message.contains(text)
    });
    assert!(
        found,
        "no problem at {file}:{line}:{col} mentioning {text:?} in {errors:#?}"
    );
}
