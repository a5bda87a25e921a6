//! Turning `field=value` input typed by people into typed [`Fields`], reporting every problem
//! at once so a requester can fix them all in one go.

use chrono::NaiveDate;

use crate::policy::input::{control_char, quoted};
use crate::policy::model::{FieldError, FieldKind, FieldSpec, Workflow, DEFAULT_TEXT_MAX_LENGTH};
use crate::policy::value::{Fields, Money, Value};

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Checks one non-empty value against its field's type and limits.
fn parse_value(spec: &FieldSpec, text: &str) -> Result<Value, String> {
    match &spec.kind {
        FieldKind::Money { currency, min, max } => {
            let m = Money::parse(text, currency).map_err(|e| format!("`{}` {e}", quoted(text)))?;
            if let Some(lo) = min.as_ref().filter(|lo| m.minor() < lo.minor()) {
                return Err(format!("{m} is below the minimum of {lo}"));
            }
            if let Some(hi) = max.as_ref().filter(|hi| m.minor() > hi.minor()) {
                return Err(format!("{m} is above the maximum of {hi}"));
            }
            Ok(Value::Money(m))
        }
        FieldKind::Text { max_length } => {
            let limit = max_length.unwrap_or(DEFAULT_TEXT_MAX_LENGTH);
            let len = text.chars().count();
            if len > limit {
                return Err(format!("is {len} characters long; at most {limit} are allowed"));
            }
            Ok(Value::Text(text.to_owned()))
        }
        FieldKind::Integer { min, max } => {
            let n: i64 = text
                .parse()
                .map_err(|_| format!("`{}` is not a whole number", quoted(text)))?;
            if let Some(lo) = min.filter(|lo| n < *lo) {
                return Err(format!("{n} is below the minimum of {lo}"));
            }
            if let Some(hi) = max.filter(|hi| n > *hi) {
                return Err(format!("{n} is above the maximum of {hi}"));
            }
            Ok(Value::Integer(n))
        }
        FieldKind::Date => {
            // chrono alone would also accept "2026-1-5"; the fixed width keeps one spelling.
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .filter(|_| is_plain_date(text))
                .ok_or_else(|| format!("`{}` is not a date; write YYYY-MM-DD, e.g. 2026-01-31", quoted(text)))?;
            Ok(Value::Date(date))
        }
        FieldKind::Choice { options } => options
            .iter()
            .find(|o| o.eq_ignore_ascii_case(text))
            .map(|o| Value::Choice(o.clone()))
            .ok_or_else(|| format!("`{}` is not one of: {}", quoted(text), options.join(", "))),
    }
}

/// `YYYY-MM-DD` with four digits of a year from 0001: chrono alone also takes "2026-1-5",
/// "-001-01-01" and "0000-01-01", which no invoice is dated.
fn is_plain_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && &text[..4] != "0000"
}

/// A raw input, checked for the problems that do not depend on the other inputs.
enum Checked<'a> {
    /// A valid value for this field.
    Value(&'a FieldSpec, Value),
    /// An empty value (meaning "clear" in an amendment).
    Empty(&'a FieldSpec),
}

impl Workflow {
    /// Checks the names and values of raw inputs, collecting every problem: unknown field,
    /// a field given twice, and bad values. Empty values are returned as `Checked::Empty`.
    fn check_raw<'w>(&'w self, raw: &[(String, String)], errors: &mut Vec<FieldError>) -> Vec<Checked<'w>> {
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for (name, value) in raw {
            let key = name.trim();
            if let Some(c) = control_char(key).or_else(|| control_char(value)) {
                errors.push(err(
                    &quoted(key),
                    format!("contains a control character ({c}); type the value again without it"),
                ));
                continue;
            }
            let Some(spec) = self.field(&key.to_ascii_lowercase()) else {
                let known: Vec<&str> = self.fields.iter().map(|f| f.name.as_str()).collect();
                errors.push(err(
                    &quoted(key),
                    format!("unknown field; this workflow has: {}", known.join(", ")),
                ));
                continue;
            };
            if seen.contains(&spec.name.as_str()) {
                errors.push(err(&spec.name, "is given twice"));
                continue;
            }
            seen.push(&spec.name);
            let text = value.trim();
            if text.is_empty() {
                out.push(Checked::Empty(spec));
                continue;
            }
            match parse_value(spec, text) {
                Ok(v) => out.push(Checked::Value(spec, v)),
                Err(message) => errors.push(err(&spec.name, message)),
            }
        }
        out
    }

    /// Validate raw `field=value` input (as typed by a user) into typed values. Every problem
    /// is reported, not just the first: unknown field, a missing required field, money that
    /// is not a number / negative / out of range / has more decimals than the currency allows
    /// (never rounded), a bad integer or date, a choice not among the options, text over its
    /// limit, an empty value, a field given twice.
    pub fn parse_fields(&self, raw: &[(String, String)]) -> Result<Fields, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fields = Fields::new();
        let mut empty: Vec<&str> = Vec::new();
        for checked in self.check_raw(raw, &mut errors) {
            match checked {
                Checked::Value(spec, v) => {
                    fields.insert(spec.name.clone(), v);
                }
                Checked::Empty(spec) => {
                    errors.push(err(&spec.name, "is empty; give a value or leave the field out"));
                    empty.push(&spec.name);
                }
            }
        }
        let given = |name: &str| raw.iter().any(|(n, _)| n.trim().eq_ignore_ascii_case(name));
        for spec in self.fields.iter().filter(|f| f.required && !given(&f.name)) {
            errors.push(err(&spec.name, "is required"));
        }
        if errors.is_empty() {
            Ok(fields)
        } else {
            Err(errors)
        }
    }

    /// Same checks for an amendment: `raw` overrides some fields of `current`; the result is
    /// the full set. An empty value clears an optional field; a required field cannot be
    /// cleared. Unknown fields are refused. Values in `current` for fields the workflow no
    /// longer has are dropped, since the new version is judged by the current policy.
    pub fn amend_fields(&self, current: &Fields, raw: &[(String, String)]) -> Result<Fields, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fields: Fields = current
            .iter()
            .filter(|(name, _)| self.field(name).is_some())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for checked in self.check_raw(raw, &mut errors) {
            match checked {
                Checked::Value(spec, v) => {
                    fields.insert(spec.name.clone(), v);
                }
                Checked::Empty(spec) if spec.required => {
                    errors.push(err(&spec.name, "is required and cannot be cleared"));
                }
                Checked::Empty(spec) => {
                    fields.remove(&spec.name);
                }
            }
        }
        let cleared = |name: &str| {
            raw.iter()
                .any(|(n, v)| n.trim().eq_ignore_ascii_case(name) && v.trim().is_empty())
        };
        for spec in self.fields.iter().filter(|f| f.required) {
            if !fields.contains_key(&spec.name) && !cleared(&spec.name) {
                let given = raw.iter().any(|(n, _)| n.trim().eq_ignore_ascii_case(&spec.name));
                if !given {
                    errors.push(err(&spec.name, "is required"));
                }
            }
        }
        if errors.is_empty() {
            Ok(fields)
        } else {
            Err(errors)
        }
    }

    /// The required fields absent (or empty) in `raw`, in file order, for opening a form.
    pub fn missing_required(&self, raw: &[(String, String)]) -> Vec<&FieldSpec> {
        let present = |name: &str| {
            raw.iter()
                .any(|(n, v)| n.trim().eq_ignore_ascii_case(name) && !v.trim().is_empty())
        };
        self.fields.iter().filter(|f| f.required && !present(&f.name)).collect()
    }
}
