//! Saying a `when` condition in plain language: "amount is at least 10,000.00 EUR".

use rust_decimal::Decimal;

use crate::policy::expr::{CmpOp, Expr, Literal, Operand};
use crate::policy::model::{FieldKind, Workflow};
use crate::policy::value::{Currency, Money};

/// Describes a condition for people, using the workflow's field types to show values
/// (money with its currency and separators): "amount is at least 10,000.00 EUR",
/// "cost_center is one of ops, sales".
pub fn describe_expr(expr: &Expr, wf: &Workflow) -> String {
    describe(expr, wf, false)
}

fn describe(expr: &Expr, wf: &Workflow, negated: bool) -> String {
    match expr {
        Expr::Or(a, b) | Expr::And(a, b) => {
            let word = if matches!(expr, Expr::Or(..)) { "or" } else { "and" };
            // Parenthesise a child of the other kind, so "a and (b or c)" keeps its meaning.
            let side = |e: &Expr| {
                let text = describe(e, wf, false);
                let other_kind = match expr {
                    Expr::Or(..) => matches!(e, Expr::And(..)),
                    _ => matches!(e, Expr::Or(..)),
                };
                if other_kind {
                    format!("({text})")
                } else {
                    text
                }
            };
            let text = format!("{} {word} {}", side(a), side(b));
            if negated {
                format!("not ({text})")
            } else {
                text
            }
        }
        // Negation is pushed into the phrase: "amount is not more than 5,000.00 USD".
        Expr::Not(inner) => describe(inner, wf, !negated),
        Expr::Compare { left, op, right } => {
            // Put the field first: `10000 <= amount` reads "amount is at least 10000".
            let (field, op, value) = match (left, right) {
                (Operand::Literal { .. }, Operand::Field { .. }) => (right, op.flipped(), left),
                _ => (left, *op, right),
            };
            let is_date = field_kind(field, wf).is_some_and(|k| matches!(k, FieldKind::Date));
            let verb = verb(op, is_date, negated);
            format!(
                "{} {verb} {}",
                operand_text(field, wf, None),
                operand_text(value, wf, Some(field))
            )
        }
        Expr::In { operand, list } => {
            let items: Vec<String> = list.iter().map(|o| operand_text(o, wf, Some(operand))).collect();
            let verb = if negated { "is not one of" } else { "is one of" };
            format!("{} {verb} {}", operand_text(operand, wf, None), items.join(", "))
        }
        Expr::Operand(o) => {
            let text = operand_text(o, wf, None);
            if negated {
                format!("not {text}")
            } else {
                text
            }
        }
    }
}

/// "is at least", "is before", ... and their negations ("is not at least").
fn verb(op: CmpOp, is_date: bool, negated: bool) -> String {
    let rest = match (op, is_date) {
        (CmpOp::Eq, _) => "",
        (CmpOp::Ne, _) => return if negated { "is".into() } else { "is not".into() },
        (CmpOp::Ge, true) => "on or after",
        (CmpOp::Gt, true) => "after",
        (CmpOp::Le, true) => "on or before",
        (CmpOp::Lt, true) => "before",
        (CmpOp::Ge, false) => "at least",
        (CmpOp::Gt, false) => "more than",
        (CmpOp::Le, false) => "at most",
        (CmpOp::Lt, false) => "less than",
    };
    let not = if negated { " not" } else { "" };
    let space = if rest.is_empty() { "" } else { " " };
    format!("is{not}{space}{rest}")
}

fn field_kind<'w>(operand: &Operand, wf: &'w Workflow) -> Option<&'w FieldKind> {
    match operand {
        Operand::Field { name, .. } => wf.field(name).map(|f| &f.kind),
        Operand::Literal { .. } => None,
    }
}

/// An operand as shown to people; a number compared with a money field is shown as money.
fn operand_text(o: &Operand, wf: &Workflow, against: Option<&Operand>) -> String {
    match o {
        Operand::Field { name, .. } => name.clone(),
        Operand::Literal { value, .. } => match (value, against.and_then(|a| field_kind(a, wf))) {
            (Literal::Number(n), Some(FieldKind::Money { currency, .. })) => money_text(*n, currency),
            (Literal::Str(s), _) => s.clone(),
            (other, _) => other.to_string(),
        },
    }
}

/// A decimal literal as money in a currency ("10,000.00 EUR"); the type checker has ensured
/// it fits the currency's decimals.
pub(crate) fn money_text(n: Decimal, currency: &Currency) -> String {
    match Money::new(n, currency.clone()) {
        Ok(m) => m.to_string(),
        Err(_) => format!("{n} {currency}"),
    }
}
