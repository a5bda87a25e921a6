//! Reading a workflow's `[fields.<name>]` tables into [`FieldSpec`]s.

use crate::policy::check::{FileCx, Table};
use crate::policy::model::{FieldKind, FieldSpec};
use crate::policy::raw::{Kind, Span};
use crate::policy::value::{Currency, Money};

const FIELD_KEYS: &[&str] = &[
    "type",
    "label",
    "required",
    "currency",
    "min",
    "max",
    "max_length",
    "options",
];
const TYPES: &[&str] = &["money", "text", "integer", "date", "choice"];
/// Words of the `when` language, which therefore cannot name a field.
const KEYWORDS: &[&str] = &["and", "or", "not", "in"];

/// The fields read, in file order, and the names of fields written but refused (so that
/// conditions naming them are not reported a second time as naming an unknown field).
pub(crate) struct ReadFields {
    pub specs: Vec<FieldSpec>,
    pub refused: Vec<String>,
}

/// Reads `[fields.*]` in file order. A missing or empty `fields` is reported.
pub(crate) fn read_fields(cx: &mut FileCx<'_>, root: &Table<'_>) -> ReadFields {
    let mut out = ReadFields {
        specs: Vec::new(),
        refused: Vec::new(),
    };
    let hint = " (at least one [fields.<name>] table)";
    let Some((key, node)) = root.get("fields") else {
        cx.missing(root, "fields", hint);
        return out;
    };
    let Some(fields) = cx.table(key, node, "[fields]".to_owned()) else {
        return out;
    };
    if fields.entries.is_empty() {
        cx.at(&fields.span, format!("[fields] is empty; a workflow needs{hint}"));
    }
    for (key, node) in fields.entries {
        let key_span = key.span.clone().or_else(|| node.span.clone());
        let name = &key.name;
        let spec = match check_field_name(name) {
            Err(e) => {
                cx.at(&key_span, e);
                None
            }
            Ok(()) => cx
                .table(key, node, format!("[fields.{name}]"))
                .and_then(|t| read_field(cx, name, &t)),
        };
        match spec {
            Some(spec) => out.specs.push(spec),
            None => out.refused.push(name.clone()),
        }
    }
    out
}

/// Field names are used in `when` conditions and in `field=value` input, so they are plain
/// lower-case identifiers and not words of the condition language.
fn check_field_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63;
    if !ok {
        return Err(format!(
            "`{name}` is not a valid field name: use lower-case letters, digits and `_`, \
             starting with a letter"
        ));
    }
    if KEYWORDS.contains(&name) {
        return Err(format!(
            "`{name}` is a word of the `when` language and cannot name a field"
        ));
    }
    Ok(())
}

fn read_field(cx: &mut FileCx<'_>, name: &str, t: &Table<'_>) -> Option<FieldSpec> {
    cx.check_keys(t, FIELD_KEYS);
    let label = cx.string(t, "label").map(|(s, _)| s);
    let required = cx.boolean(t, "required").unwrap_or(false);
    let (ty, ty_span) = cx.required_string(t, "type", " (money, text, integer, date or choice)")?;
    let applicable: &[&str] = match ty.as_str() {
        "money" => &["currency", "min", "max"],
        "text" => &["max_length"],
        "integer" => &["min", "max"],
        "date" => &[],
        "choice" => &["options"],
        _ => {
            cx.at(
                &ty_span,
                format!("unknown field type `{ty}`; use one of: {}", TYPES.join(", ")),
            );
            return None;
        }
    };
    for key in ["currency", "min", "max", "max_length", "options"] {
        if t.get(key).is_some() && !applicable.contains(&key) {
            cx.at(&t.key_span(key), format!("`{key}` does not apply to a {ty} field"));
        }
    }
    let kind = match ty.as_str() {
        "money" => read_money(cx, t)?,
        "text" => read_text(cx, t)?,
        "integer" => read_integer(cx, t)?,
        "date" => FieldKind::Date,
        _ => read_choice(cx, t)?,
    };
    Some(FieldSpec {
        name: name.to_owned(),
        label,
        kind,
        required,
    })
}

fn read_money(cx: &mut FileCx<'_>, t: &Table<'_>) -> Option<FieldKind> {
    let (code, span) = cx.required_string(t, "currency", " (a money field needs one, e.g. currency = \"EUR\")")?;
    let currency = match Currency::parse(&code) {
        Ok(c) => c,
        Err(e) => {
            cx.at(&span, e);
            return None;
        }
    };
    let min = money_limit(cx, t, "min", &currency);
    let max = money_limit(cx, t, "max", &currency);
    let (min, max) = (min.ok()?, max.ok()?);
    if let (Some(lo), Some(hi)) = (&min, &max) {
        if lo.minor() > hi.minor() {
            cx.at(&t.value_span("max"), format!("`max` ({hi}) is below `min` ({lo})"));
            return None;
        }
    }
    Some(FieldKind::Money { currency, min, max })
}

/// A money limit: written as a string ("0.01") so it stays exact; whole numbers are also
/// accepted, TOML decimals are refused because they are binary floating point.
fn money_limit(cx: &mut FileCx<'_>, t: &Table<'_>, key: &str, currency: &Currency) -> Result<Option<Money>, ()> {
    let Some((_, node)) = t.get(key) else {
        return Ok(None);
    };
    let span: Span = t.value_span(key);
    let text = match &node.kind {
        Kind::Str(s) => s.clone(),
        Kind::Int(i) => i.to_string(),
        Kind::Float => {
            // Suggest the very number they wrote, quoted: the fix is one pair of quotes.
            let written = span
                .clone()
                .and_then(|r| cx.text.get(r))
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .unwrap_or("12.50");
            cx.at(
                &span,
                format!("write money as a string so it stays exact: {key} = \"{written}\""),
            );
            return Err(());
        }
        other => {
            cx.at(
                &span,
                format!("`{key}` must be an amount as a string, not {}", other.describe()),
            );
            return Err(());
        }
    };
    Money::parse(&text, currency).map(Some).map_err(|e| {
        cx.at(&span, format!("`{key}` {e}"));
    })
}

fn read_text(cx: &mut FileCx<'_>, t: &Table<'_>) -> Option<FieldKind> {
    let max_length = match cx.integer(t, "max_length") {
        None if t.get("max_length").is_some() => return None,
        None => None,
        Some((n, span)) => match usize::try_from(n) {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                cx.at(&span, "`max_length` must be at least 1");
                return None;
            }
        },
    };
    Some(FieldKind::Text { max_length })
}

fn read_integer(cx: &mut FileCx<'_>, t: &Table<'_>) -> Option<FieldKind> {
    let bad_min = t.get("min").is_some();
    let bad_max = t.get("max").is_some();
    let min = cx.integer(t, "min").map(|(n, _)| n);
    let max = cx.integer(t, "max").map(|(n, _)| n);
    if (bad_min && min.is_none()) || (bad_max && max.is_none()) {
        return None;
    }
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            cx.at(&t.value_span("max"), format!("`max` ({hi}) is below `min` ({lo})"));
            return None;
        }
    }
    Some(FieldKind::Integer { min, max })
}

fn read_choice(cx: &mut FileCx<'_>, t: &Table<'_>) -> Option<FieldKind> {
    let hint = " (a choice needs its options, e.g. options = [\"ops\", \"sales\"])";
    let Some(listed) = cx.string_list(t, "options") else {
        if t.get("options").is_none() {
            cx.missing(t, "options", hint);
        }
        return None;
    };
    if listed.is_empty() {
        cx.at(&t.value_span("options"), format!("`options` is empty{hint}"));
        return None;
    }
    let mut options: Vec<String> = Vec::new();
    let mut ok = true;
    for (o, span) in listed {
        if o.trim().is_empty() || o.trim() != o {
            cx.at(
                &span,
                format!("option \"{o}\" must be non-empty text without surrounding spaces"),
            );
            ok = false;
        } else if options.iter().any(|x| x.eq_ignore_ascii_case(&o)) {
            // Input matches options case-insensitively, so these would be the same answer.
            cx.at(&span, format!("option \"{o}\" is listed twice"));
            ok = false;
        } else {
            options.push(o);
        }
    }
    ok.then_some(FieldKind::Choice { options })
}
