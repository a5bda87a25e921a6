//! A TOML document as a tree that remembers where every key and value is in the file.
//!
//! Deserialising straight into structs would stop at the first unknown key or wrong type;
//! walking this tree instead lets `countersign check` report every problem in one run, each
//! with the position of the key or value at fault. Spans come from the `toml` crate's
//! `Spanned` protocol; some nodes (implicit tables such as `fields` in `[fields.amount]`) have
//! no span of their own, so positions fall back to their key.

use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// The names by which the `toml` deserializer recognises a request for spans
/// (`serde_spanned`'s protocol, the same one `toml::Spanned` speaks). We speak it directly
/// because `toml::Spanned` cannot fall back when a node has no span.
const SPANNED_NAME: &str = "$__serde_spanned_private_Spanned";
const SPANNED_START: &str = "$__serde_spanned_private_start";
const SPANNED_END: &str = "$__serde_spanned_private_end";
const SPANNED_VALUE: &str = "$__serde_spanned_private_value";
const SPANNED_FIELDS: &[&str] = &[SPANNED_START, SPANNED_END, SPANNED_VALUE];
/// The key under which the `toml` deserializer hands over a date-time.
const DATETIME_KEY: &str = "$__toml_private_datetime";

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
    toml::from_str::<Node>(text).map_err(|e| {
        // The toml crate's messages may span lines ("invalid table header\nexpected `.`");
        // a check error is one line.
        let lines: Vec<&str> = e.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        (e.span(), plain_toml_message(&lines.join("; ")))
    })
}

/// The toml crate names a string that runs to the end of its line "invalid basic string" (or
/// "invalid literal string"); people call it an unterminated string and look for the quote.
fn plain_toml_message(message: &str) -> String {
    for (crate_says, kind) in [("invalid basic string", "\""), ("invalid literal string", "'")] {
        if message.starts_with(crate_says) {
            return format!("unterminated string: the value has no closing {kind} on its line");
        }
    }
    message.to_owned()
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, NodeVisitor)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, KeyVisitor)
    }
}

/// Deserialises a bare value (no span request), used for the inside of a spanned one;
/// asking for spans again there would recurse forever.
struct KindSeed;

impl<'de> DeserializeSeed<'de> for KindSeed {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

fn plain(kind: Kind) -> Node {
    Node { span: None, kind }
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(plain(Kind::Str(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(plain(Kind::Str(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(plain(Kind::Int(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        i64::try_from(v)
            .map(|i| plain(Kind::Int(i)))
            .map_err(|_| E::custom("integer is too large"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(plain(Kind::Float))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(plain(Kind::Bool(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(plain(Kind::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let Some(first) = map.next_key::<Key>()? else {
            return Ok(plain(Kind::Table(Vec::new())));
        };
        match first.name.as_str() {
            SPANNED_START => {
                let start: usize = map.next_value()?;
                let mut end = start;
                let mut value = None;
                while let Some(key) = map.next_key::<Key>()? {
                    match key.name.as_str() {
                        SPANNED_END => end = map.next_value()?,
                        _ => value = Some(map.next_value_seed(KindSeed)?),
                    }
                }
                let mut node = value.ok_or_else(|| de::Error::missing_field(SPANNED_VALUE))?;
                node.span = Some(start..end);
                Ok(node)
            }
            DATETIME_KEY => {
                let _text: String = map.next_value()?;
                Ok(plain(Kind::Datetime))
            }
            _ => {
                let mut entries = vec![(first, map.next_value::<Node>()?)];
                while let Some(key) = map.next_key::<Key>()? {
                    let value = map.next_value::<Node>()?;
                    entries.push((key, value));
                }
                Ok(plain(Kind::Table(entries)))
            }
        }
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key {
            name: v.to_owned(),
            span: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
        let (mut start, mut end, mut name) = (None, None, None);
        while let Some(k) = map.next_key::<String>()? {
            match k.as_str() {
                SPANNED_START => start = Some(map.next_value::<usize>()?),
                SPANNED_END => end = Some(map.next_value::<usize>()?),
                _ => name = Some(map.next_value::<String>()?),
            }
        }
        let name = name.ok_or_else(|| de::Error::missing_field(SPANNED_VALUE))?;
        let span = start.zip(end).map(|(s, e)| s..e);
        Ok(Key { name, span })
    }
}
