//! The `when` condition language: its syntax tree and its evaluation against request fields.
//!
//! Parsing lives in `expr_parse.rs`, type checking in `typecheck.rs`; both report an
//! [`ExprError`] with a byte offset so `countersign check` can point at the bad token.

use std::cmp::Ordering;
use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::policy::value::{Currency, Fields, Value};

pub use crate::policy::expr_parse::parse_expr;
pub use crate::policy::typecheck::typecheck;

/// A parsed `when` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `a or b`
    Or(Box<Expr>, Box<Expr>),
    /// `a and b`
    And(Box<Expr>, Box<Expr>),
    /// `not a`
    Not(Box<Expr>),
    /// `left op right`
    Compare {
        /// Left side.
        left: Operand,
        /// The operator.
        op: CmpOp,
        /// Right side.
        right: Operand,
    },
    /// `operand in [a, b, ...]`
    In {
        /// What is looked up (a field, once type-checked).
        operand: Operand,
        /// The list; never empty.
        list: Vec<Operand>,
    },
    /// A field or literal standing alone where a condition is expected. The parser keeps it
    /// so that [`typecheck`] can say what the field is ("amount is money, not a condition");
    /// it never passes type checking and evaluates to false.
    Operand(Operand),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator with its sides swapped: `a < b` is `b > a`.
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            same => same,
        }
    }

    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Ne => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
        }
    }
}

/// One side of a comparison, with its byte offset in the source for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A field name.
    Field {
        /// The field's name.
        name: String,
        /// Byte offset in the expression text.
        offset: usize,
    },
    /// A constant.
    Literal {
        /// The constant.
        value: Literal,
        /// Byte offset in the expression text.
        offset: usize,
    },
}

impl Operand {
    /// Byte offset of the operand in the expression text.
    pub fn offset(&self) -> usize {
        match self {
            Operand::Field { offset, .. } | Operand::Literal { offset, .. } => *offset,
        }
    }
}

/// A constant in a condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Literal {
    /// A decimal number: `10000`, `10000.50`, `-3`, exactly as written (its scale is the
    /// number of decimals written, so `10000.50` keeps both).
    Number(Decimal),
    /// A string: `"ops"` or `'ops'`.
    Str(String),
    /// A bare date: `2026-01-31`.
    Date(NaiveDate),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number(n) => n.fmt(f),
            Literal::Str(s) => write!(f, "\"{s}\""),
            Literal::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

/// What an operand stands for at evaluation time.
enum Scalar<'a> {
    /// A decimal, with the currency when it came from a money field.
    Dec(Decimal, Option<&'a Currency>),
    Date(NaiveDate),
    Str(&'a str),
}

fn scalar<'a>(operand: &'a Operand, fields: &'a Fields) -> Option<Scalar<'a>> {
    match operand {
        Operand::Literal { value, .. } => Some(match value {
            Literal::Number(n) => Scalar::Dec(*n, None),
            Literal::Str(s) => Scalar::Str(s),
            Literal::Date(d) => Scalar::Date(*d),
        }),
        // An absent field yields None, which makes the comparison false.
        Operand::Field { name, .. } => Some(match fields.get(name)? {
            Value::Money(m) => Scalar::Dec(m.amount(), Some(m.currency())),
            Value::Integer(i) => Scalar::Dec(Decimal::from(*i), None),
            Value::Date(d) => Scalar::Date(*d),
            Value::Text(s) | Value::Choice(s) => Scalar::Str(s),
        }),
    }
}

fn compare(left: &Operand, op: CmpOp, right: &Operand, fields: &Fields) -> bool {
    let (Some(l), Some(r)) = (scalar(left, fields), scalar(right, fields)) else {
        return false;
    };
    let ord = match (l, r) {
        (Scalar::Dec(_, Some(a)), Scalar::Dec(_, Some(b))) if a != b => None,
        // Decimal's ordering is exact across scales (10000 == 10000.00).
        (Scalar::Dec(a, _), Scalar::Dec(b, _)) => Some(a.cmp(&b)),
        (Scalar::Date(a), Scalar::Date(b)) => Some(a.cmp(&b)),
        (Scalar::Str(a), Scalar::Str(b)) => Some(a.cmp(b)),
        _ => None,
    };
    ord.is_some_and(|o| op.holds(o))
}

impl Expr {
    /// The field names the condition mentions, in order of appearance.
    pub fn fields_used(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        let mut add = |o: &'a Operand| {
            if let Operand::Field { name, .. } = o {
                out.push(name.as_str());
            }
        };
        match self {
            Expr::Or(a, b) | Expr::And(a, b) => {
                a.collect_fields(out);
                b.collect_fields(out);
            }
            Expr::Not(a) => a.collect_fields(out),
            Expr::Compare { left, right, .. } => {
                add(left);
                add(right);
            }
            Expr::In { operand, list } => {
                add(operand);
                list.iter().for_each(add);
            }
            Expr::Operand(o) => add(o),
        }
    }

    /// Whether the condition holds for these values. A comparison touching an absent
    /// (optional) field is false, so `not (x == "a")` is true when `x` is absent.
    pub fn eval(&self, fields: &Fields) -> bool {
        match self {
            Expr::Or(a, b) => a.eval(fields) || b.eval(fields),
            Expr::And(a, b) => a.eval(fields) && b.eval(fields),
            Expr::Not(a) => !a.eval(fields),
            Expr::Compare { left, op, right } => compare(left, *op, right, fields),
            Expr::In { operand, list } => list.iter().any(|item| compare(operand, CmpOp::Eq, item, fields)),
            Expr::Operand(_) => false,
        }
    }
}

/// A problem in a `when` expression, at a byte offset into its text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// Byte offset into the expression text of the offending token.
    pub offset: usize,
    /// What is wrong, for people.
    pub message: String,
}

impl ExprError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        ExprError {
            offset,
            message: message.into(),
        }
    }
}
