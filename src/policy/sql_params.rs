//! An effect's statement as written in a policy file: `:name` parameters found outside string
//! literals, quoted identifiers, dollar quotes and comments (`::` is a cast, never a parameter),
//! rewritten to Postgres's `$n`; and one statement only.
//!
//! Nothing here understands SQL beyond its lexical layers: whether the statement is valid on its
//! target is for the target to say (`countersign check --targets` prepares it there).

use std::fmt;

/// A statement with its parameters found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// As written (trimmed), for people and for its hash.
    pub text: String,
    /// With each `:name` replaced by `$n`, for the target; a name used twice is one `$n`.
    pub positional: String,
    /// The parameter names, in `$n` order.
    pub names: Vec<String>,
    /// Every use of a parameter: its name and the byte offset of its `:` in `text`.
    pub uses: Vec<(String, usize)>,
}

/// Why a statement cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatementError {
    /// Nothing but whitespace and comments.
    Empty,
    /// A second statement after a `;` (byte offset of the `;`).
    Several(usize),
    /// A literal, identifier or comment that does not end (offset of its start).
    Unterminated(&'static str, usize),
    /// `$1`-style parameters (offset): a policy names its parameters.
    Positional(usize),
}

impl StatementError {
    /// Where in the text, when the problem has a place.
    pub fn offset(&self) -> Option<usize> {
        match self {
            StatementError::Empty => None,
            StatementError::Several(at) | StatementError::Unterminated(_, at) | StatementError::Positional(at) => {
                Some(*at)
            }
        }
    }
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatementError::Empty => f.write_str("the statement is empty"),
            StatementError::Several(_) => {
                f.write_str("only one statement may run: nothing but a comment may follow the `;`")
            }
            StatementError::Unterminated(what, _) => write!(f, "this {what} is not closed"),
            StatementError::Positional(_) => {
                f.write_str("write parameters by name (`:amount`, `:ref`), not by position (`$1`)")
            }
        }
    }
}

fn ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Finds where a quoted run starting at `i` (at its opening quote `q`) ends, past its closing
/// quote; a doubled quote is one quote inside. `backslash` for `E'...'` strings.
fn quoted_end(b: &[u8], i: usize, q: u8, backslash: bool) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' if backslash => j += 2,
            c if c == q && b.get(j + 1) == Some(&q) => j += 2,
            c if c == q => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// The `$tag$` opening a dollar-quoted string at `i`, if there is one.
fn dollar_tag(b: &[u8], i: usize) -> Option<&[u8]> {
    let mut j = i + 1;
    if b.get(j).is_some_and(|c| ident_start(*c)) {
        while b.get(j).is_some_and(|c| ident_char(*c)) {
            j += 1;
        }
    }
    (b.get(j) == Some(&b'$')).then(|| &b[i..=j])
}

/// Where the comment starting at `i` ends (block comments nest, as in Postgres).
fn comment_end(b: &[u8], i: usize) -> Option<usize> {
    if b[i] == b'-' {
        return Some(b[i..].iter().position(|c| *c == b'\n').map_or(b.len(), |n| i + n + 1));
    }
    let (mut depth, mut j) = (0usize, i);
    while j + 1 < b.len() {
        match (b[j], b[j + 1]) {
            (b'/', b'*') => {
                depth += 1;
                j += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => j += 1,
        }
    }
    None
}

fn is_comment(b: &[u8], i: usize) -> bool {
    matches!((b[i], b.get(i + 1)), (b'-', Some(b'-')) | (b'/', Some(b'*')))
}

/// Whether only whitespace and comments are left from `i` on.
fn only_trivia(b: &[u8], mut i: usize) -> bool {
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if is_comment(b, i) {
            match comment_end(b, i) {
                Some(end) => i = end,
                None => return false,
            }
        } else {
            return false;
        }
    }
    true
}

/// Reads a statement (trimmed first; offsets are in the trimmed text).
pub fn parse_statement(sql: &str) -> Result<Statement, StatementError> {
    let text = sql.trim();
    let b = text.as_bytes();
    if only_trivia(b, 0) {
        return Err(StatementError::Empty);
    }
    let (mut out, mut names, mut uses) = (String::with_capacity(text.len()), Vec::<String>::new(), Vec::new());
    let (mut i, mut copied) = (0usize, 0usize);
    while i < b.len() {
        let c = b[i];
        let skip_to = match c {
            b'\'' => {
                let e = i > 0 && matches!(b[i - 1], b'E' | b'e') && !(i > 1 && ident_char(b[i - 2]));
                Some(quoted_end(b, i, b'\'', e).ok_or(StatementError::Unterminated("string", i))?)
            }
            b'"' => Some(quoted_end(b, i, b'"', false).ok_or(StatementError::Unterminated("quoted name", i))?),
            b'$' if b.get(i + 1).is_some_and(u8::is_ascii_digit) && !(i > 0 && ident_char(b[i - 1])) => {
                return Err(StatementError::Positional(i));
            }
            b'$' if !(i > 0 && ident_char(b[i - 1])) => match dollar_tag(b, i) {
                Some(tag) => {
                    let body = i + tag.len();
                    let end = b[body..]
                        .windows(tag.len())
                        .position(|w| w == tag)
                        .ok_or(StatementError::Unterminated("dollar-quoted string", i))?;
                    Some(body + end + tag.len())
                }
                None => None,
            },
            b'-' | b'/' if is_comment(b, i) => {
                Some(comment_end(b, i).ok_or(StatementError::Unterminated("comment", i))?)
            }
            b';' => {
                if !only_trivia(b, i + 1) {
                    return Err(StatementError::Several(i));
                }
                break;
            }
            b':' if b.get(i + 1) == Some(&b':') => Some(i + 2),
            b':' if b.get(i + 1).is_some_and(|c| ident_start(*c)) => {
                let mut j = i + 1;
                while b.get(j).is_some_and(|c| ident_char(*c)) {
                    j += 1;
                }
                let name = &text[i + 1..j];
                let n = match names.iter().position(|x| x == name) {
                    Some(n) => n,
                    None => {
                        names.push(name.to_string());
                        names.len() - 1
                    }
                };
                out.push_str(&text[copied..i]);
                out.push_str(&format!("${}", n + 1));
                uses.push((name.to_string(), i));
                copied = j;
                Some(j)
            }
            _ => None,
        };
        i = skip_to.unwrap_or(i + 1);
    }
    out.push_str(&text[copied..i.min(b.len())]);
    Ok(Statement {
        text: text.to_string(),
        positional: out.trim_end().to_string(),
        names,
        uses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn named_parameters_become_positional_and_a_repeated_name_is_one() {
        let s = parse_statement(
            "UPDATE invoices SET status = 'payable', approved_by = :approvers, approval_ref = :ref\n\
             WHERE number = :invoice AND status = 'received' AND ref_again = :ref",
        )
        .unwrap();
        assert_eq!(s.names, vec!["approvers", "ref", "invoice"]);
        assert_eq!(
            s.positional,
            "UPDATE invoices SET status = 'payable', approved_by = $1, approval_ref = $2\n\
             WHERE number = $3 AND status = 'received' AND ref_again = $2"
        );
        assert_eq!(s.uses.len(), 4);
    }

    #[test]
    fn casts_literals_identifiers_and_comments_hold_no_parameters() {
        let s = parse_statement(
            "SELECT :a::numeric, ':not', E'\\':not', \"col:not\", $$ :not $$, $q$ :not $q$ -- :not\n\
             /* :not /* nested :not */ */ , arr[1:2], :b;  -- trailing comment",
        )
        .unwrap();
        assert_eq!(s.names, vec!["a", "b"]);
        assert!(
            s.positional.starts_with("SELECT $1::numeric, ':not'"),
            "{}",
            s.positional
        );
        assert!(s.positional.ends_with(":2], $2"), "{}", s.positional);
    }

    #[test]
    fn a_second_statement_an_open_literal_and_positional_parameters_are_refused_where_they_are() {
        assert_eq!(
            parse_statement("DELETE FROM a; DROP TABLE b"),
            Err(StatementError::Several(13))
        );
        assert_eq!(
            parse_statement("SELECT 'x; DROP"),
            Err(StatementError::Unterminated("string", 7))
        );
        assert_eq!(parse_statement("SELECT $1"), Err(StatementError::Positional(7)));
        assert_eq!(parse_statement("  -- nothing\n"), Err(StatementError::Empty));
        assert!(parse_statement("SELECT 1; -- done").is_ok());
    }

    proptest! {
        #[test]
        fn any_text_reads_or_is_refused_without_panicking(sql in "\\PC{0,200}") {
            let _ = parse_statement(&sql);
        }

        #[test]
        fn a_name_inside_a_string_is_never_a_parameter(name in "[a-z_][a-z0-9_]{0,10}") {
            let s = parse_statement(&format!("SELECT ':{name}', :{name}")).unwrap();
            prop_assert_eq!(s.names, vec![name]);
            prop_assert_eq!(s.positional, format!("SELECT ':{}', $1", s.uses[0].0));
        }
    }
}
