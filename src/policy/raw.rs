//! A TOML document as a tree that remembers where every key and value is in the file.
//!
//! Deserialising straight into structs would stop at the first unknown key or wrong type;
//! walking this tree instead lets `countersign check` report every problem in one run, each
//! with the position of the key or value at fault. Spans come from `toml_edit`'s parsed
//! document, its public API for positions; some nodes (implicit tables such as `fields` in
//! `[fields.amount]`) have no span of their own, so positions fall back to their key.

use std::ops::Range;

use toml_edit::{Document, Item, TableLike, Value};

/// A byte range in the file, when known.
pub(crate) type Span = Option<Range<usize>>;

/// A key and where it is written.
#[derive(Clone, Debug)]
pub(crate) struct Key {
    pub name: String,
    pub span: Span,
}

/// A value and where it is written.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub span: Span,
    pub kind: Kind,
}

/// The TOML value kinds.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Str(String),
    Int(i64),
    /// A TOML decimal; never valid in policy files (money must stay exact), so its value
    /// is not kept.
    Float,
    Bool(bool),
    /// A TOML date/time; never valid in policy files either.
    Datetime,
    Array(Vec<Node>),
    /// Entries in file order.
    Table(Vec<(Key, Node)>),
}

impl Kind {
    /// The kind's name for messages: "a string", "an integer", ...
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Str(_) => "a string",
            Kind::Int(_) => "an integer",
            Kind::Float => "a decimal number",
            Kind::Bool(_) => "true/false",
            Kind::Datetime => "a date/time",
            Kind::Array(_) => "a list",
            Kind::Table(_) => "a table",
        }
    }
}

/// Parses TOML text into a tree; a syntax error comes back with its byte span.
pub(crate) fn parse_document(text: &str) -> Result<Node, (Span, String)> {
    let doc = Document::parse(text).map_err(|e| {
        // The parser's messages may span lines; a check error is one line.
        let lines: Vec<&str> = e.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let written = e.span().and_then(|s| text.get(s));
        (e.span(), plain_toml_message(&lines.join("; "), written))
    })?;
    Ok(item_node(doc.as_item()))
}

/// Words for the parser's messages where people would look for something else: it names a
/// string that runs to the end of its line by what it expected there, people call that an
/// unterminated string and look for the quote; and it says "duplicate key" without naming
/// the key, which `written` (the text at the error's span) does.
fn plain_toml_message(message: &str, written: Option<&str>) -> String {
    for (parser_says, kind) in [("invalid basic string", "\""), ("invalid literal string", "'")] {
        if message.starts_with(parser_says) {
            return format!("unterminated string: the value has no closing {kind} on its line");
        }
    }
    match written.map(str::trim) {
        Some(key) if message == "duplicate key" && !key.is_empty() => {
            format!("duplicate key `{key}`: a key may be set only once in a table")
        }
        _ => message.to_owned(),
    }
}

fn item_node(item: &Item) -> Node {
    match item {
        Item::Value(value) => value_node(value),
        Item::Table(table) => Node {
            span: table.span(),
            kind: Kind::Table(entries(table)),
        },
        Item::ArrayOfTables(tables) => Node {
            span: tables.span(),
            kind: Kind::Array(
                tables
                    .iter()
                    .map(|t| Node {
                        span: t.span(),
                        kind: Kind::Table(entries(t)),
                    })
                    .collect(),
            ),
        },
        // A parsed document holds no placeholders; an empty table stands in harmlessly.
        Item::None => Node {
            span: None,
            kind: Kind::Table(Vec::new()),
        },
    }
}

fn value_node(value: &Value) -> Node {
    let kind = match value {
        Value::String(s) => Kind::Str(s.value().clone()),
        Value::Integer(i) => Kind::Int(*i.value()),
        Value::Float(_) => Kind::Float,
        Value::Boolean(b) => Kind::Bool(*b.value()),
        Value::Datetime(_) => Kind::Datetime,
        Value::Array(items) => Kind::Array(items.iter().map(value_node).collect()),
        Value::InlineTable(table) => Kind::Table(entries(table)),
    };
    Node {
        span: value.span(),
        kind,
    }
}

/// A table's entries in file order, each key with its own span.
fn entries(table: &dyn TableLike) -> Vec<(Key, Node)> {
    table
        .iter()
        .filter_map(|(name, _)| table.get_key_value(name))
        .map(|(key, item)| {
            let key = Key {
                name: key.get().to_owned(),
                span: key.span(),
            };
            (key, item_node(item))
        })
        .collect()
}
