//! Approvals that execute: what an approved version's effect is bound to, and when it runs. The
//! statement and its parameters were frozen with the version the approvers voted on; here the
//! request's values are bound to them, typed as the policy says (never pasted into the text).
//! Running it is `runner`; talking to the target databases is `store::targets`.

pub mod runner;

use crate::audit::{Action, AuditOutcome, NewEntry};
use crate::policy::effect::{Effect, Param, SqlType};
use crate::policy::value::{Fields, Value};
use crate::store::request_effects::EffectStatus;
use crate::store::targets::Ran;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use std::fmt;
use std::time::Duration;

/// One bound parameter, as the target receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bound {
    /// `numeric`, exact.
    Numeric(Option<Decimal>),
    /// `bigint`.
    Bigint(Option<i64>),
    /// `date`.
    Date(Option<NaiveDate>),
    /// `text`.
    Text(Option<String>),
    /// `text[]`.
    TextArray(Vec<String>),
    /// `timestamptz`.
    Timestamptz(Option<DateTime<Utc>>),
}

impl fmt::Display for Bound {
    /// As shown on a card: the value, or NULL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn or_null<T: fmt::Display>(f: &mut fmt::Formatter<'_>, v: &Option<T>) -> fmt::Result {
            match v {
                Some(v) => write!(f, "{v}"),
                None => f.write_str("NULL"),
            }
        }
        match self {
            Bound::Numeric(v) => or_null(f, v),
            Bound::Bigint(v) => or_null(f, v),
            Bound::Date(v) => or_null(f, &v.map(|d| d.format("%Y-%m-%d"))),
            Bound::Text(v) => or_null(f, &v.as_ref().map(|s| format!("'{}'", s.replace('\'', "''")))),
            Bound::TextArray(v) => write!(f, "{{{}}}", v.join(",")),
            Bound::Timestamptz(v) => or_null(f, &v.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
        }
    }
}

/// What a request knows about itself when its effect runs (or is previewed).
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// `INV-42`.
    pub r#ref: &'a str,
    /// The version that is run.
    pub version: i32,
    /// Who asked.
    pub requester: &'a str,
    /// Whose approvals counted (empty in a preview).
    pub approvers: Vec<String>,
    /// When it was decided (now, in a preview).
    pub decided_at: DateTime<Utc>,
    /// The version's field values.
    pub fields: &'a Fields,
}

/// The parameters of `effect`, in `$n` order, bound to `inputs`. A field that was not given is
/// bound as NULL of its type.
pub fn bind(effect: &Effect, inputs: &Inputs<'_>) -> Vec<Bound> {
    effect
        .params
        .iter()
        .map(|p| match p {
            Param::Ref => Bound::Text(Some(inputs.r#ref.to_string())),
            Param::Version => Bound::Bigint(Some(i64::from(inputs.version))),
            Param::Requester => Bound::Text(Some(inputs.requester.to_string())),
            Param::Approvers => Bound::TextArray(inputs.approvers.clone()),
            Param::DecidedAt => Bound::Timestamptz(Some(inputs.decided_at)),
            Param::Field { name, sql_type } => {
                let v = inputs.fields.get(name);
                match sql_type {
                    SqlType::Numeric => Bound::Numeric(match v {
                        Some(Value::Money(m)) => Some(m.amount()),
                        _ => None,
                    }),
                    SqlType::Bigint => Bound::Bigint(match v {
                        Some(Value::Integer(i)) => Some(*i),
                        _ => None,
                    }),
                    SqlType::Date => Bound::Date(match v {
                        Some(Value::Date(d)) => Some(*d),
                        _ => None,
                    }),
                    SqlType::Text | SqlType::TextArray | SqlType::Timestamptz => Bound::Text(match v {
                        Some(Value::Text(s) | Value::Choice(s)) => Some(s.clone()),
                        _ => None,
                    }),
                }
            }
        })
        .collect()
}

/// How a run of an effect ended, as it is recorded: in `request_effects`, and in the audit log as
/// `effect.executed` or `effect.failed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// Executed or failed.
    pub status: EffectStatus,
    /// Rows it changed, once executed.
    pub rows: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
    /// Where its exactly-once record is: the decision's transaction, or a target's ledger
    /// (written with it now, or found from an earlier run).
    pub ledger: &'static str,
}

impl Ended {
    /// What a run on a target (or on the bot's own database, where `ledger` says which) did.
    pub fn of(ran: Ran, ledger: &'static str) -> Ended {
        match ran {
            Ran::Now(rows) => Ended::executed(rows, ledger),
            Ran::Before(rows) => Ended::executed(rows, "found: it had run already"),
            Ran::WrongCount { rows, expected } => Ended::failed(
                format!("it would have changed {rows} rows where {expected} were expected, so it was rolled back"),
                ledger,
            ),
        }
    }

    fn executed(rows: u64, ledger: &'static str) -> Ended {
        Ended {
            status: EffectStatus::Executed,
            rows: Some(rows),
            error: None,
            ledger,
        }
    }

    /// A run that could not happen, and why.
    pub fn failed(error: String, ledger: &'static str) -> Ended {
        Ended {
            status: EffectStatus::Failed,
            rows: None,
            error: Some(error),
            ledger,
        }
    }

    /// The rows as stored.
    pub fn stored_rows(&self) -> Option<i64> {
        self.rows.map(|r| i64::try_from(r).unwrap_or(i64::MAX))
    }

    /// The audit entry of the run (identity `system`; the caller says which request).
    pub fn entry(&self, now: DateTime<Utc>, workflow: &str, effect: &Effect, took: Duration) -> NewEntry {
        let action = match self.status {
            EffectStatus::Executed => Action::EffectExecuted,
            EffectStatus::Failed | EffectStatus::Pending => Action::EffectFailed,
        };
        NewEntry {
            identity: Some("system".into()),
            details: json!({
                "workflow": workflow,
                "target": effect.target.as_str(),
                "statement_sha256": effect.statement_sha256(),
                "rows": self.rows,
                "error": self.error,
                "duration_ms": u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                "ledger": self.ledger,
            }),
            ..NewEntry::new(now, action, AuditOutcome::Done)
        }
    }
}

/// The effect's id in a target's ledger: `INV-42@2`.
pub fn effect_id(r#ref: &str, version: i32) -> String {
    format!("{ref}@{version}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::effect::{ExpectRows, TargetName};
    use crate::policy::value::{Currency, Money};

    #[test]
    fn each_parameter_is_bound_as_its_field_is_typed_and_money_keeps_its_exact_value() {
        let effect = Effect {
            target: TargetName::parse("erp").unwrap(),
            sql: String::new(),
            positional: String::new(),
            params: vec![
                Param::Field {
                    name: "amount".into(),
                    sql_type: SqlType::Numeric,
                },
                Param::Field {
                    name: "vendor".into(),
                    sql_type: SqlType::Text,
                },
                Param::Field {
                    name: "missing".into(),
                    sql_type: SqlType::Bigint,
                },
                Param::Approvers,
                Param::Ref,
                Param::Version,
            ],
            expect_rows: ExpectRows::Any,
            expect_rows_written: false,
            preview: true,
        };
        let eur = Currency::parse("EUR").unwrap();
        let mut fields = Fields::new();
        fields.insert("amount".into(), Value::Money(Money::parse("12500.10", &eur).unwrap()));
        fields.insert("vendor".into(), Value::Text("x'); DROP TABLE invoices; --".into()));
        let inputs = Inputs {
            r#ref: "INV-1",
            version: 2,
            requester: "alice",
            approvers: vec!["carol".into(), "dave".into()],
            decided_at: Utc::now(),
            fields: &fields,
        };
        let bound = bind(&effect, &inputs);
        assert_eq!(
            bound[0],
            Bound::Numeric(Some(Decimal::from_str_exact("12500.10").unwrap()))
        );
        assert_eq!(bound[1], Bound::Text(Some("x'); DROP TABLE invoices; --".into())));
        assert_eq!(bound[2], Bound::Bigint(None));
        assert_eq!(bound[3].to_string(), "{carol,dave}");
        assert_eq!(bound[1].to_string(), "'x''); DROP TABLE invoices; --'");
        assert_eq!(
            (bound[4].to_string(), bound[5].to_string()),
            ("'INV-1'".into(), "2".into())
        );
        assert_eq!(effect_id("INV-1", 2), "INV-1@2");
    }
}
