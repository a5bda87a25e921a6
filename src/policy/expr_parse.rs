//! Lexer and recursive-descent parser for `when` conditions.
//!
//! Grammar (lowest precedence first):
//! `or_expr := and_expr ("or" and_expr)*`, `and_expr := unary ("and" unary)*`,
//! `unary := "not" unary | primary`,
//! `primary := "(" or_expr ")" | operand cmp operand | operand "in" "[" literal ("," literal)* "]"`.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::policy::expr::{CmpOp, Expr, ExprError, Literal, Operand};

/// Deep nesting only comes from mistakes; the limit keeps recursion bounded.
const MAX_DEPTH: usize = 64;
/// The most `and`/`or` a condition may join: a flat chain is as deep a tree as nesting, and
/// every pass over it (type check, evaluation, explanation) recurses through it.
pub const MAX_TERMS: usize = 64;
/// The longest condition, in bytes.
pub const MAX_EXPR_BYTES: usize = 4_000;
/// The most digits a number may have: a `Decimal` holds any 28 digits exactly, with up to 28
/// of them after the point (its 96-bit mantissa runs out partway through a 29th).
const MAX_DIGITS: usize = 28;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    And,
    Or,
    Not,
    In,
    Lit(Literal),
    Cmp(CmpOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
}

impl Tok {
    /// How the token is named in messages.
    fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => format!("`{name}`"),
            Tok::And => "`and`".into(),
            Tok::Or => "`or`".into(),
            Tok::Not => "`not`".into(),
            Tok::In => "`in`".into(),
            Tok::Lit(l) => format!("`{l}`"),
            Tok::Cmp(op) => format!("`{}`", op.symbol()),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::End => "the end of the condition".into(),
        }
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let two = |s: &str| src[i..].starts_with(s);
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b',' => Tok::Comma,
            _ if two("==") => Tok::Cmp(CmpOp::Eq),
            _ if two("!=") => Tok::Cmp(CmpOp::Ne),
            _ if two("<=") => Tok::Cmp(CmpOp::Le),
            _ if two(">=") => Tok::Cmp(CmpOp::Ge),
            b'<' => Tok::Cmp(CmpOp::Lt),
            b'>' => Tok::Cmp(CmpOp::Gt),
            _ if two("&&") => return Err(ExprError::new(i, "`&&` is not an operator; write `and`")),
            _ if two("||") => return Err(ExprError::new(i, "`||` is not an operator; write `or`")),
            b'=' => return Err(ExprError::new(i, "`=` is not a comparison; write `==`")),
            b'!' => return Err(ExprError::new(i, "`!` is not an operator; write `not` or `!=`")),
            b'"' | b'\'' => {
                let close = src[i + 1..]
                    .find(c as char)
                    .ok_or_else(|| ExprError::new(i, "this string is not closed; add the closing quote"))?;
                let text = &src[i + 1..i + 1 + close];
                i += close + 2;
                toks.push((Tok::Lit(Literal::Str(text.to_owned())), start));
                continue;
            }
            b'0'..=b'9' | b'-' => {
                let (lit, len) = lex_number_or_date(&src[i..], i)?;
                i += len;
                toks.push((Tok::Lit(lit), start));
                continue;
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let len = src[i..]
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .unwrap_or(src.len() - i);
                let word = &src[i..i + len];
                i += len;
                let tok = match word {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "in" => Tok::In,
                    _ => Tok::Ident(word.to_owned()),
                };
                toks.push((tok, start));
                continue;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(ExprError::new(i, format!("unexpected character `{ch}`")));
            }
        };
        i += match tok {
            Tok::Cmp(CmpOp::Eq | CmpOp::Ne | CmpOp::Le | CmpOp::Ge) => 2,
            _ => 1,
        };
        toks.push((tok, start));
    }
    toks.push((Tok::End, src.len()));
    Ok(toks)
}

/// Lexes `-12`, `10000`, `10000.50` or a bare date `2026-01-31` at the start of `s`
/// (which sits at byte `at` of the whole condition); returns the literal and its length.
fn lex_number_or_date(s: &str, at: usize) -> Result<(Literal, usize), ExprError> {
    let len = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
        .unwrap_or(s.len());
    let word = &s[..len];
    let b = word.as_bytes();
    let is_date_shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(k, c)| k == 4 || k == 7 || c.is_ascii_digit());
    if is_date_shape {
        return NaiveDate::parse_from_str(word, "%Y-%m-%d")
            .map(|d| (Literal::Date(d), len))
            .map_err(|_| ExprError::new(at, format!("`{word}` is not a valid date")));
    }
    let bad = || {
        ExprError::new(
            at,
            format!("`{word}` is not a number or a date; write e.g. 10000, 10000.50 or 2026-01-31"),
        )
    };
    let (negative, unsigned) = match word.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_only = |p: &str| p.bytes().all(|c| c.is_ascii_digit());
    if int.is_empty() || !digits_only(int) || !digits_only(frac) || unsigned.ends_with('.') {
        return Err(bad());
    }
    let too_long = || {
        ExprError::new(
            at,
            format!("`{word}` has too many digits: a number has at most {MAX_DIGITS}"),
        )
    };
    if int.len() + frac.len() > MAX_DIGITS {
        return Err(too_long());
    }
    let all: String = [int, frac].concat();
    let magnitude: i128 = all.parse().map_err(|_| bad())?;
    let mantissa = if negative { -magnitude } else { magnitude };
    // The scale is the number of decimals written, so `10000.50` prints back as written.
    let scale = u32::try_from(frac.len()).map_err(|_| too_long())?;
    let number = Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| too_long())?;
    Ok((Literal::Number(number), len))
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn offset(&self) -> usize {
        self.toks[self.pos].1
    }

    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn unexpected(&self, expected: &str) -> ExprError {
        ExprError::new(
            self.offset(),
            format!("expected {expected}, found {}", self.peek().describe()),
        )
    }

    fn or_expr(&mut self) -> Result<Expr, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::new(self.offset(), "the condition is nested too deeply"));
        }
        let mut left = self.and_expr()?;
        while *self.peek() == Tok::Or {
            self.bump();
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.unary()?;
        while *self.peek() == Tok::And {
            self.bump();
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if *self.peek() == Tok::Not {
            self.bump();
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(ExprError::new(self.offset(), "the condition is nested too deeply"));
            }
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ExprError> {
        if *self.peek() == Tok::LParen {
            self.bump();
            let inner = self.or_expr()?;
            if *self.peek() != Tok::RParen {
                return Err(self.unexpected("`)` or `and`/`or`"));
            }
            self.bump();
            return Ok(inner);
        }
        let left = self.operand()?;
        match self.peek().clone() {
            Tok::Cmp(op) => {
                self.bump();
                let right = self.operand()?;
                Ok(Expr::Compare { left, op, right })
            }
            Tok::In => {
                self.bump();
                let list = self.list()?;
                Ok(Expr::In { operand: left, list })
            }
            // Kept so the type checker can explain what the operand is.
            _ => Ok(Expr::Operand(left)),
        }
    }

    fn operand(&mut self) -> Result<Operand, ExprError> {
        match self.peek().clone() {
            Tok::Ident(name) => {
                let (_, offset) = self.bump();
                Ok(Operand::Field { name, offset })
            }
            Tok::Lit(value) => {
                let (_, offset) = self.bump();
                Ok(Operand::Literal { value, offset })
            }
            _ => Err(self.unexpected("a field name, a number, a string or a date")),
        }
    }

    fn list(&mut self) -> Result<Vec<Operand>, ExprError> {
        if *self.peek() != Tok::LBracket {
            return Err(self.unexpected("`[` after `in`"));
        }
        self.bump();
        let mut items = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::Lit(value) => {
                    let (_, offset) = self.bump();
                    items.push(Operand::Literal { value, offset });
                }
                _ => return Err(self.unexpected("a number, a string or a date in the list")),
            }
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RBracket => {
                    self.bump();
                    return Ok(items);
                }
                _ => return Err(self.unexpected("`,` or `]`")),
            }
        }
    }
}

/// Parses a `when` condition. Errors carry the byte offset of the offending token.
pub fn parse_expr(src: &str) -> Result<Expr, ExprError> {
    if src.len() > MAX_EXPR_BYTES {
        return Err(ExprError::new(
            0,
            format!(
                "the condition is {} bytes long; at most {MAX_EXPR_BYTES} are allowed: split the rule",
                src.len()
            ),
        ));
    }
    let toks = lex(src)?;
    let joins = toks.iter().filter(|(t, _)| matches!(t, Tok::And | Tok::Or)).count();
    if joins >= MAX_TERMS {
        return Err(ExprError::new(
            0,
            format!(
                "the condition joins {} terms with `and`/`or`; at most {MAX_TERMS} are allowed: split the rule",
                joins + 1
            ),
        ));
    }
    let mut p = Parser { toks, pos: 0, depth: 0 };
    if *p.peek() == Tok::End {
        return Err(ExprError::new(0, "the condition is empty"));
    }
    let expr = p.or_expr()?;
    if *p.peek() != Tok::End {
        return Err(p.unexpected("`and`, `or` or the end of the condition"));
    }
    Ok(expr)
}
