//! Load-time problems as `file:line:col: message`, and the helpers that read a spanned TOML
//! tree while collecting every problem instead of stopping at the first.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::policy::raw::{Key, Kind, Node, Span};

/// A problem in a commands/ file, at a 1-based line and column (columns count characters).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CheckError {
    /// The file at fault.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// What is wrong and how to fix it.
    pub message: String,
    /// The line at fault, for showing a person where to look; `None` when the problem is
    /// with the file as a whole (it cannot be read, or is missing).
    pub excerpt: Option<Excerpt>,
}

/// One line of a file with the part at fault marked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excerpt {
    /// The line's text, without its line ending.
    pub text: String,
    /// The bytes of `text` at fault; empty when the fault is the end of the line itself
    /// (a string or list that is never closed).
    pub marked: Range<usize>,
}

impl Excerpt {
    /// The line holding `span.start`, marking the span up to the end of that line.
    fn of(text: &str, span: Range<usize>) -> Excerpt {
        let start = floor_char_boundary(text, span.start);
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[line_start..line_end]
            .strip_suffix('\r')
            .unwrap_or(&text[line_start..line_end]);
        let from = (start - line_start).min(line.len());
        let to = floor_char_boundary(line, span.end.saturating_sub(line_start)).max(from);
        Excerpt {
            text: line.to_owned(),
            marked: from..to,
        }
    }
}

/// The largest char boundary at or below `byte` (clamped to the text).
fn floor_char_boundary(text: &str, byte: usize) -> usize {
    let mut byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    byte
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

/// Converts a byte offset into a 1-based (line, column), the column counted in characters.
pub(crate) fn line_col(text: &str, byte: usize) -> (usize, usize) {
    let byte = floor_char_boundary(text, byte);
    let before = &text[..byte];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Items joined with commas for a message, or "(none)".
pub(crate) fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

/// One file being checked: its text, for positions, and the problems found so far.
pub(crate) struct FileCx<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub errors: Vec<CheckError>,
}

impl<'a> FileCx<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        FileCx {
            path,
            text,
            errors: Vec::new(),
        }
    }

    /// Records a problem at a byte offset (into a `when` condition), marking the name or
    /// number that starts there, else the one character.
    pub fn at_offset(&mut self, byte: usize, message: impl Into<String>) {
        let rest = self.text.get(byte..).unwrap_or_default();
        let word = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .unwrap_or(rest.len());
        let len = match word {
            0 => rest.chars().next().map_or(0, char::len_utf8),
            n => n,
        };
        self.push(byte..byte + len, true, message.into());
    }

    /// Records a problem at a span (the start of the file, with no line shown, when the span
    /// is unknown).
    pub fn at(&mut self, span: &Span, message: impl Into<String>) {
        match span {
            Some(span) => self.push(span.clone(), true, message.into()),
            None => self.push(0..0, false, message.into()),
        }
    }

    fn push(&mut self, span: Range<usize>, show: bool, message: String) {
        let (line, col) = line_col(self.text, span.start);
        self.errors.push(CheckError {
            file: self.path.to_path_buf(),
            line,
            col,
            message,
            excerpt: show.then(|| Excerpt::of(self.text, span)),
        });
    }

    /// Reads a table node, refusing other kinds.
    pub fn table<'n>(&mut self, key: &Key, node: &'n Node, what: String) -> Option<Table<'n>> {
        let span = node.span.clone().or_else(|| key.span.clone());
        match &node.kind {
            Kind::Table(entries) => Some(Table { entries, span, what }),
            other => {
                self.at(&span, format!("{what} must be a table, not {}", other.describe()));
                None
            }
        }
    }

    /// Reads the document's root table (positions without a span point at the file's start).
    pub fn root_table<'n>(&mut self, node: &'n Node, what: &str) -> Option<Table<'n>> {
        let key = Key {
            name: String::new(),
            span: Some(0..0),
        };
        self.table(&key, node, what.to_owned())
    }

    /// Refuses keys not in `allowed`, naming the table and the keys it accepts.
    pub fn check_keys(&mut self, t: &Table<'_>, allowed: &[&str]) {
        for (key, node) in t.entries {
            if !allowed.contains(&key.name.as_str()) {
                let span = key.span.clone().or_else(|| node.span.clone());
                self.at(
                    &span,
                    format!(
                        "unknown key `{}` in {}; expected one of: {}",
                        key.name,
                        t.what,
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// Reports a missing required key at the table's position.
    pub fn missing(&mut self, t: &Table<'_>, key: &str, hint: &str) {
        self.at(&t.span, format!("{} is missing `{key}`{hint}", t.what));
    }

    /// A string value; wrong types are reported, absence is left to the caller.
    pub fn string(&mut self, t: &Table<'_>, key: &str) -> Option<(String, Span)> {
        let (_, node) = t.get(key)?;
        match &node.kind {
            Kind::Str(s) => Some((s.clone(), node.span.clone())),
            other => {
                self.wrong_type(t, key, node, "a string", other);
                None
            }
        }
    }

    /// A required string value.
    pub fn required_string(&mut self, t: &Table<'_>, key: &str, hint: &str) -> Option<(String, Span)> {
        if t.get(key).is_none() {
            self.missing(t, key, hint);
            return None;
        }
        self.string(t, key)
    }

    /// A boolean value.
    pub fn boolean(&mut self, t: &Table<'_>, key: &str) -> Option<bool> {
        let (_, node) = t.get(key)?;
        match &node.kind {
            Kind::Bool(b) => Some(*b),
            other => {
                self.wrong_type(t, key, node, "true or false", other);
                None
            }
        }
    }

    /// An integer value.
    pub fn integer(&mut self, t: &Table<'_>, key: &str) -> Option<(i64, Span)> {
        let (_, node) = t.get(key)?;
        match &node.kind {
            Kind::Int(i) => Some((*i, node.span.clone())),
            other => {
                self.wrong_type(t, key, node, "an integer", other);
                None
            }
        }
    }

    /// A list of strings; each item comes with its own span. Non-string items are reported
    /// and skipped.
    pub fn string_list(&mut self, t: &Table<'_>, key: &str) -> Option<Vec<(String, Span)>> {
        let (_, node) = t.get(key)?;
        let Kind::Array(items) = &node.kind else {
            self.wrong_type(t, key, node, "a list of strings", &node.kind);
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            match &item.kind {
                Kind::Str(s) => out.push((s.clone(), item.span.clone())),
                other => self.at(
                    &item.span.clone().or_else(|| node.span.clone()),
                    format!("`{key}` in {} must list strings, not {}", t.what, other.describe()),
                ),
            }
        }
        Some(out)
    }

    fn wrong_type(&mut self, t: &Table<'_>, key: &str, node: &Node, want: &str, got: &Kind) {
        let span = node.span.clone().or_else(|| t.key_span(key));
        self.at(
            &span,
            format!("`{key}` in {} must be {want}, not {}", t.what, got.describe()),
        );
    }

    /// The byte offset of the text of a string value: after its opening quote(s), when the
    /// value is written without escapes (so offsets inside the string map 1:1 to the file).
    pub fn string_content_start(&self, span: &Span, value: &str) -> Option<usize> {
        let span = span.as_ref()?;
        let raw = self.text.get(span.clone())?;
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        let inner = raw.get(quote..raw.len().checked_sub(quote)?)?;
        // TOML drops a newline right after an opening triple quote.
        let (skip, inner) = match inner.strip_prefix('\n') {
            Some(rest) if quote == 3 => (1, rest),
            _ => (0, inner),
        };
        (inner == value).then_some(span.start + quote + skip)
    }
}

/// A table being read, with a name for messages ("[fields.amount]", "rule `large`").
pub(crate) struct Table<'n> {
    pub entries: &'n [(Key, Node)],
    pub span: Span,
    pub what: String,
}

impl<'n> Table<'n> {
    /// The entry for a key.
    pub fn get(&self, key: &str) -> Option<(&'n Key, &'n Node)> {
        self.entries.iter().find(|(k, _)| k.name == key).map(|(k, n)| (k, n))
    }

    /// Where a key is written (falling back to the table).
    pub fn key_span(&self, key: &str) -> Span {
        self.get(key)
            .and_then(|(k, n)| k.span.clone().or_else(|| n.span.clone()))
            .or_else(|| self.span.clone())
    }

    /// Where a key's value is written (falling back to the key, then the table).
    pub fn value_span(&self, key: &str) -> Span {
        self.get(key)
            .and_then(|(k, n)| n.span.clone().or_else(|| k.span.clone()))
            .or_else(|| self.span.clone())
    }
}
