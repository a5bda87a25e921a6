//! `PolicySet::load`: reads a commands/ directory (people.toml plus one file per workflow)
//! and runs every check, returning all problems sorted by file and position.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::policy::check::{CheckError, FileCx};
use crate::policy::model::PolicySet;
use crate::policy::people::read_directory;
use crate::policy::raw::{parse_document, Span};
use crate::policy::workflow_file::{read_workflow, stem_of};

/// The directory file's name inside commands/.
pub const PEOPLE_FILE: &str = "people.toml";

fn file_error(file: &Path, message: String) -> CheckError {
    CheckError {
        file: file.to_path_buf(),
        line: 1,
        col: 1,
        message,
        excerpt: None,
    }
}

/// Reads a file as UTF-8 text with its sha256; problems become a [`CheckError`].
fn read_text(path: &Path) -> Result<(String, String), CheckError> {
    let bytes = fs::read(path).map_err(|e| file_error(path, format!("cannot read the file: {e}")))?;
    let hash = hex::encode(Sha256::digest(&bytes));
    let text = String::from_utf8(bytes).map_err(|_| file_error(path, "the file is not valid UTF-8 text".to_owned()))?;
    Ok((text, hash))
}

/// The `*.toml` files of a directory, sorted by name (hidden files are skipped).
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, CheckError> {
    let entries = fs::read_dir(dir).map_err(|e| file_error(dir, format!("cannot read the commands directory: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| file_error(dir, format!("cannot list the commands directory: {e}")))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".toml") && !name.starts_with('.') && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl PolicySet {
    /// Reads people.toml and every other `*.toml` of `dir` (sorted by name) and checks them.
    /// Every problem found is returned, sorted by file, then line and column.
    pub fn load(dir: &Path) -> Result<PolicySet, Vec<CheckError>> {
        let files = toml_files(dir).map_err(|e| vec![e])?;
        let people_path = dir.join(PEOPLE_FILE);
        // Workflows are checked against the directory: without a readable people.toml every
        // role, team and person they name would be reported again, so stop at its problems.
        let people = match read_text(&people_path) {
            Err(_) if !people_path.exists() => {
                return Err(vec![file_error(
                    &people_path,
                    "people.toml is missing: the directory of people, roles and teams is required \
                     (the workflows were not checked, as they refer to it)"
                        .to_owned(),
                )]);
            }
            Err(e) => return Err(vec![e]),
            Ok(text) => text,
        };
        let mut errors = Vec::new();
        let mut workflows = Vec::new();
        for path in files
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n != PEOPLE_FILE))
        {
            match read_text(&path) {
                Ok((text, hash)) => workflows.push((path, text, hash)),
                Err(e) => errors.push(e),
            }
        }
        Self::check_texts((people_path, people.0, people.1), workflows, errors)
    }

    /// Checks policy files given as text: people.toml's, and each workflow file's with its
    /// name (`invoice.toml`). The same checks as [`PolicySet::load`], without a directory.
    pub fn from_texts(people: &str, workflows: &[(&str, &str)]) -> Result<PolicySet, Vec<CheckError>> {
        let hash = |t: &str| hex::encode(Sha256::digest(t.as_bytes()));
        let files = workflows
            .iter()
            .map(|(name, text)| (PathBuf::from(name), (*text).to_owned(), hash(text)))
            .collect();
        let people = (PathBuf::from(PEOPLE_FILE), people.to_owned(), hash(people));
        Self::check_texts(people, files, Vec::new())
    }

    fn check_texts(
        (people_path, people, people_hash): (PathBuf, String, String),
        files: Vec<(PathBuf, String, String)>,
        mut errors: Vec<CheckError>,
    ) -> Result<PolicySet, Vec<CheckError>> {
        let directory = {
            let mut cx = FileCx::new(&people_path, &people);
            match parse_document(&people) {
                Ok(root) => {
                    let directory = read_directory(&mut cx, &root, people_hash);
                    errors.append(&mut cx.errors);
                    directory
                }
                Err((span, message)) => {
                    cx.at(&span, message);
                    return Err(cx.errors);
                }
            }
        };

        let mut workflows = BTreeMap::new();
        let mut ids: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut prefixes: BTreeMap<String, PathBuf> = BTreeMap::new();
        for (path, text, hash) in &files {
            let mut cx = FileCx::new(path, text);
            match parse_document(text) {
                Err((span, message)) => cx.at(&span, message),
                Ok(root) => {
                    let read = read_workflow(&mut cx, &root, &directory, &stem_of(path), hash.clone());
                    let unique_id = claim_once(&mut cx, &mut ids, read.id, "workflow id");
                    let prefix = read.prefix.map(|(p, s)| (p.to_ascii_uppercase(), s));
                    let unique_prefix = claim_once(&mut cx, &mut prefixes, prefix, "prefix");
                    if let (Some(wf), true, true) = (read.workflow, unique_id, unique_prefix) {
                        workflows.insert(wf.id.clone(), wf);
                    }
                }
            }
            errors.append(&mut cx.errors);
        }

        if errors.is_empty() {
            Ok(PolicySet { directory, workflows })
        } else {
            errors.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
            Err(errors)
        }
    }
}

/// Records the first file to use a value; a later one gets an error naming the first.
fn claim_once(
    cx: &mut FileCx<'_>,
    seen: &mut BTreeMap<String, PathBuf>,
    value: Option<(String, Span)>,
    what: &str,
) -> bool {
    let Some((value, span)) = value else {
        return true;
    };
    if let Some(first) = seen.get(&value) {
        let other = first
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let this = cx
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        cx.at(
            &span,
            format!("{what} `{value}` is used by both {other} and {this}; each workflow needs its own"),
        );
        return false;
    }
    seen.insert(value, cx.path.to_path_buf());
    true
}
