//! Type checking of `when` conditions against a workflow's fields, at load time, so a rule
//! can never silently compare money with text or name a choice option that does not exist.

use crate::policy::check::list_or_none;
use crate::policy::expr::{CmpOp, Expr, ExprError, Literal, Operand};
use crate::policy::model::{FieldKind, FieldSpec};

/// What an operand is, for the checker.
enum Ty<'a> {
    Field(&'a FieldSpec),
    Lit(&'a Literal),
}

/// Checks a condition against the fields it may name; the first problem is reported with the
/// offset of the offending token.
pub fn typecheck(expr: &Expr, fields: &[FieldSpec]) -> Result<(), ExprError> {
    match expr {
        Expr::Or(a, b) | Expr::And(a, b) => {
            typecheck(a, fields)?;
            typecheck(b, fields)
        }
        Expr::Not(a) => typecheck(a, fields),
        Expr::Operand(op) => Err(bare_operand(op, fields)),
        Expr::Compare { left, op, right } => match (resolve(left, fields)?, resolve(right, fields)?) {
            (Ty::Lit(_), Ty::Lit(_)) => Err(ExprError::new(
                left.offset(),
                "this compares two constants; one side must be a field",
            )),
            (Ty::Field(f), Ty::Lit(lit)) => field_vs_literal(f, *op, lit, right.offset()),
            (Ty::Lit(lit), Ty::Field(f)) => field_vs_literal(f, *op, lit, left.offset()),
            (Ty::Field(a), Ty::Field(b)) => field_vs_field(a, *op, b, right.offset()),
        },
        Expr::In { operand, list } => {
            let Ty::Field(field) = resolve(operand, fields)? else {
                return Err(ExprError::new(
                    operand.offset(),
                    "the left side of `in` must be a field",
                ));
            };
            let mut first_kind: Option<&Literal> = None;
            for item in list {
                let Operand::Literal { value, offset } = item else {
                    return Err(ExprError::new(item.offset(), "lists hold constants only"));
                };
                if let Some(first) = first_kind {
                    if std::mem::discriminant(first) != std::mem::discriminant(value) {
                        return Err(ExprError::new(
                            *offset,
                            format!(
                                "a list must hold one kind of value: {} and {} are mixed",
                                literal_kind(first),
                                literal_kind(value)
                            ),
                        ));
                    }
                }
                first_kind.get_or_insert(value);
                field_vs_literal(field, CmpOp::Eq, value, *offset)?;
            }
            Ok(())
        }
    }
}

fn resolve<'a>(op: &'a Operand, fields: &'a [FieldSpec]) -> Result<Ty<'a>, ExprError> {
    match op {
        Operand::Literal { value, .. } => Ok(Ty::Lit(value)),
        Operand::Field { name, offset } => fields.iter().find(|f| &f.name == name).map(Ty::Field).ok_or_else(|| {
            let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            ExprError::new(
                *offset,
                format!("unknown field `{name}`; the fields are {}", list_or_none(&known)),
            )
        }),
    }
}

fn literal_kind(l: &Literal) -> &'static str {
    match l {
        Literal::Number(_) => "numbers",
        Literal::Str(_) => "strings",
        Literal::Date(_) => "dates",
    }
}

/// An example comparison for a field, used in messages that say how to fix something.
fn example(f: &FieldSpec) -> String {
    let name = &f.name;
    match &f.kind {
        FieldKind::Money { .. } => format!("{name} >= 100"),
        FieldKind::Integer { .. } => format!("{name} >= 1"),
        FieldKind::Date => format!("{name} <= 2026-01-31"),
        FieldKind::Text { .. } => format!("{name} == \"some text\""),
        FieldKind::Choice { options } => {
            format!("{name} == \"{}\"", options.first().map_or("option", String::as_str))
        }
    }
}

/// "is money", "is an integer", ... for messages.
fn is_a(f: &FieldSpec) -> &'static str {
    match f.kind {
        FieldKind::Money { .. } => "is money",
        FieldKind::Text { .. } => "is text",
        FieldKind::Integer { .. } => "is an integer",
        FieldKind::Date => "is a date",
        FieldKind::Choice { .. } => "is a choice",
    }
}

fn bare_operand(op: &Operand, fields: &[FieldSpec]) -> ExprError {
    match resolve(op, fields) {
        Err(unknown) => unknown,
        Ok(Ty::Field(f)) => ExprError::new(
            op.offset(),
            format!(
                "{} {}, not a condition; compare it, e.g. {}",
                f.name,
                is_a(f),
                example(f)
            ),
        ),
        Ok(Ty::Lit(lit)) => ExprError::new(
            op.offset(),
            format!("`{lit}` is a constant, not a condition; compare a field with it"),
        ),
    }
}

fn field_vs_literal(f: &FieldSpec, op: CmpOp, lit: &Literal, at: usize) -> Result<(), ExprError> {
    let name = &f.name;
    let mismatch = || {
        ExprError::new(
            at,
            format!(
                "{name} {}, so `{lit}` cannot be compared with it; e.g. {}",
                is_a(f),
                example(f)
            ),
        )
    };
    let equality_only = || {
        if matches!(op, CmpOp::Eq | CmpOp::Ne) {
            Ok(())
        } else {
            Err(ExprError::new(
                at,
                format!("{name} {}; it can only be compared with == != or `in`", is_a(f)),
            ))
        }
    };
    match (&f.kind, lit) {
        (FieldKind::Money { currency, .. }, Literal::Number(n)) => {
            if n.is_sign_negative() && !n.is_zero() {
                return Err(ExprError::new(at, format!("{name} is money, which is never negative")));
            }
            let allowed = u32::from(currency.minor_units());
            if n.scale() > allowed {
                return Err(ExprError::new(
                    at,
                    format!("`{n}` has more decimals than {currency} allows ({allowed})"),
                ));
            }
            Ok(())
        }
        (FieldKind::Integer { .. }, Literal::Number(n)) if n.scale() > 0 => Err(ExprError::new(
            at,
            format!("{name} is an integer, so `{n}` must be a whole number"),
        )),
        (FieldKind::Integer { .. }, Literal::Number(_)) => Ok(()),
        (FieldKind::Date, Literal::Date(_)) => Ok(()),
        (FieldKind::Text { .. }, Literal::Str(_)) => equality_only(),
        (FieldKind::Choice { options }, Literal::Str(s)) => {
            equality_only()?;
            if options.contains(s) {
                Ok(())
            } else {
                Err(ExprError::new(
                    at,
                    format!("\"{s}\" is not an option of {name} ({})", options.join(", ")),
                ))
            }
        }
        _ => Err(mismatch()),
    }
}

fn field_vs_field(a: &FieldSpec, op: CmpOp, b: &FieldSpec, at: usize) -> Result<(), ExprError> {
    let texty = |k: &FieldKind| matches!(k, FieldKind::Text { .. } | FieldKind::Choice { .. });
    let ok = match (&a.kind, &b.kind) {
        (FieldKind::Money { currency: x, .. }, FieldKind::Money { currency: y, .. }) => x == y,
        (FieldKind::Integer { .. }, FieldKind::Integer { .. }) => true,
        (FieldKind::Date, FieldKind::Date) => true,
        (x, y) if texty(x) && texty(y) => {
            if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(ExprError::new(
                    at,
                    format!(
                        "{} and {} hold text; they can only be compared with == or !=",
                        a.name, b.name
                    ),
                ));
            }
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ExprError::new(
            at,
            format!(
                "{} ({}) cannot be compared with {} ({})",
                a.name,
                describe_kind(&a.kind),
                b.name,
                describe_kind(&b.kind)
            ),
        ))
    }
}

fn describe_kind(k: &FieldKind) -> String {
    match k {
        FieldKind::Money { currency, .. } => format!("money in {currency}"),
        other => other.type_name().to_owned(),
    }
}
