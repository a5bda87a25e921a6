//! `[effect]`: what an approval does. One statement, run on a target database with bound
//! parameters (the workflow's fields, typed as the fields are, and what the request knows about
//! itself), with an optional expected row count. Read and checked here; run by `effect/` and
//! `store/`.

use crate::policy::check::{FileCx, Table};
use crate::policy::model::{FieldKind, FieldSpec};
use crate::policy::sql_params::{parse_statement, Statement};
use serde::{Deserialize, Serialize};
use std::fmt;

const EFFECT_KEYS: &[&str] = &["target", "sql", "expect_rows", "preview"];

/// The target that is the bot's own database: the effect commits with the deciding vote.
pub const OWN_DATABASE: &str = "countersign";

/// A target's name: `countersign`, or a name whose URL is in `COUNTERSIGN_TARGET_<NAME>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TargetName(String);

impl TargetName {
    /// Lower-case letters, digits, `-` and `_`, starting with a letter, at most 40.
    pub fn parse(s: &str) -> Result<TargetName, String> {
        let ok = s.len() <= 40
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(TargetName(s.to_string()))
        } else {
            Err(format!(
                "target `{s}` must be lower-case letters, digits, `-` and `_`, starting with a letter (e.g. \"erp\")"
            ))
        }
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is the bot's own database.
    pub fn is_own(&self) -> bool {
        self.0 == OWN_DATABASE
    }

    /// The environment variable holding its URL: `COUNTERSIGN_TARGET_ERP`, `-` as `_`.
    pub fn env_var(&self) -> String {
        format!("COUNTERSIGN_TARGET_{}", self.0.to_ascii_uppercase().replace('-', "_"))
    }
}

impl fmt::Display for TargetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Postgres type a parameter is bound as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlType {
    /// Money, with its exact value.
    Numeric,
    /// An integer field, or the version.
    Bigint,
    /// A date field.
    Date,
    /// Text and choice fields, the ref and the requester.
    Text,
    /// The approvers' person ids.
    TextArray,
    /// The decision time.
    Timestamptz,
}

/// What one parameter is bound to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Param {
    /// A field of the request (absent when not given: bound as null).
    Field {
        /// The field's name.
        name: String,
        /// Its type.
        sql_type: SqlType,
    },
    /// `:ref`
    Ref,
    /// `:version`
    Version,
    /// `:requester` (a person or service id)
    Requester,
    /// `:approvers` (the person ids whose approval counted)
    Approvers,
    /// `:decided_at`
    DecidedAt,
}

impl Param {
    /// The request's own values a statement may name, besides its fields.
    pub const BUILTINS: [Param; 5] = [
        Param::Ref,
        Param::Version,
        Param::Requester,
        Param::Approvers,
        Param::DecidedAt,
    ];

    fn resolve(name: &str, fields: &[FieldSpec]) -> Option<Param> {
        let builtin = Param::BUILTINS.into_iter().find(|p| p.name() == name);
        builtin.or_else(|| {
            fields.iter().find(|f| f.name == name).map(|f| Param::Field {
                name: f.name.clone(),
                sql_type: match f.kind {
                    FieldKind::Money { .. } => SqlType::Numeric,
                    FieldKind::Integer { .. } => SqlType::Bigint,
                    FieldKind::Date => SqlType::Date,
                    FieldKind::Text { .. } | FieldKind::Choice { .. } => SqlType::Text,
                },
            })
        })
    }

    /// The name the statement uses for it, without its `:`.
    pub fn name(&self) -> &str {
        match self {
            Param::Field { name, .. } => name,
            Param::Ref => "ref",
            Param::Version => "version",
            Param::Requester => "requester",
            Param::Approvers => "approvers",
            Param::DecidedAt => "decided_at",
        }
    }

    /// Its Postgres type.
    pub fn sql_type(&self) -> SqlType {
        match self {
            Param::Field { sql_type, .. } => *sql_type,
            Param::Ref | Param::Requester => SqlType::Text,
            Param::Version => SqlType::Bigint,
            Param::Approvers => SqlType::TextArray,
            Param::DecidedAt => SqlType::Timestamptz,
        }
    }
}

/// How many rows the statement must change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectRows {
    /// Exactly this many; any other count is a failure, rolled back.
    Exactly(u64),
    /// Any count (written `expect_rows = "any"`, or left out).
    Any,
}

impl ExpectRows {
    /// The count a run must change, if there is one.
    pub fn count(self) -> Option<u64> {
        match self {
            ExpectRows::Exactly(n) => Some(n),
            ExpectRows::Any => None,
        }
    }
}

/// `[effect]` of a workflow, as frozen with each request version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    /// Where it runs.
    pub target: TargetName,
    /// The statement as written.
    pub sql: String,
    /// The statement with `$n` for the parameters.
    pub positional: String,
    /// What each `$n` is bound to, in order.
    pub params: Vec<Param>,
    /// The row count it must change.
    pub expect_rows: ExpectRows,
    /// Whether `expect_rows` was written (a requested statement must say).
    pub expect_rows_written: bool,
    /// Whether a rolled-back trial run is shown on the card.
    pub preview: bool,
}

impl Effect {
    /// The SHA-256 (hex) of the statement as written: in the ledger, the audit log and receipts.
    pub fn statement_sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

fn read_expect_rows(cx: &mut FileCx<'_>, t: &Table<'_>) -> Option<(ExpectRows, bool)> {
    let Some((_, node)) = t.get("expect_rows") else {
        return Some((ExpectRows::Any, false));
    };
    if let crate::policy::raw::Kind::Str(s) = &node.kind {
        if s == "any" {
            return Some((ExpectRows::Any, true));
        }
        cx.at(
            &node.span,
            format!("expect_rows `{s}` must be a number of rows (0 or more) or \"any\""),
        );
        return None;
    }
    let (n, span) = cx.integer(t, "expect_rows")?;
    match u64::try_from(n) {
        Ok(n) => Some((ExpectRows::Exactly(n), true)),
        Err(_) => {
            cx.at(&span, "expect_rows must be 0 or more, or \"any\"");
            None
        }
    }
}

/// `[effect]`, when the workflow has one. Every problem is reported with its position: an unknown
/// parameter at its `:`, a second statement at its `;`.
pub(crate) fn read_effect(cx: &mut FileCx<'_>, root: &Table<'_>, fields: &[FieldSpec]) -> Option<Effect> {
    let (key, node) = root.get("effect")?;
    let t = cx.table(key, node, "[effect]".to_owned())?;
    cx.check_keys(&t, EFFECT_KEYS);
    let target = cx
        .required_string(&t, "target", " (\"countersign\" for the bot's own database, or a name like \"erp\" whose URL is in COUNTERSIGN_TARGET_ERP)")
        .and_then(|(s, span)| TargetName::parse(&s).map_err(|e| cx.at(&span, e)).ok());
    let sql = cx.required_string(&t, "sql", " (the one statement the approval runs)");
    let expect = read_expect_rows(cx, &t);
    let preview = cx.boolean(&t, "preview").unwrap_or(true);
    let (sql, span) = sql?;
    let lead = sql.len() - sql.trim_start().len();
    let start = cx.string_content_start(&span, &sql).map(|s| s + lead);
    let at = |offset: usize| start.map_or(span.as_ref().map_or(0, |s| s.start), |s| s + offset);
    let statement: Statement = match parse_statement(&sql) {
        Ok(s) => s,
        Err(e) => {
            cx.at_offset(at(e.offset().unwrap_or(0)), format!("in the effect's sql: {e}"));
            return None;
        }
    };
    let mut params = Vec::new();
    let mut ok = true;
    for name in &statement.names {
        match Param::resolve(name, fields) {
            Some(p) => params.push(p),
            None => {
                ok = false;
                let offset = statement.uses.iter().find(|(n, _)| n == name).map_or(0, |(_, o)| *o);
                let known: Vec<String> = fields
                    .iter()
                    .map(|f| format!(":{}", f.name))
                    .chain(Param::BUILTINS.iter().map(|b| format!(":{}", b.name())))
                    .collect();
                cx.at_offset(
                    at(offset),
                    format!(
                        "unknown parameter `:{name}`; the statement may use {}",
                        known.join(", ")
                    ),
                );
            }
        }
    }
    let (expect_rows, expect_rows_written) = expect?;
    (ok && target.is_some()).then(|| Effect {
        target: target.expect("checked above"),
        sql: statement.text,
        positional: statement.positional,
        params,
        expect_rows,
        expect_rows_written,
        preview,
    })
}
