//! What people type, as the domain lets it in and as messages quote it back: a value with a
//! control character (a NUL above all, which Postgres cannot store) is refused as invalid input,
//! and a message never echoes more than a short, printable excerpt of what was typed. Also how
//! a list reads in a message.

/// How much of a person's input a message quotes back.
pub const QUOTED_CHARS: usize = 60;

/// The first control character in `text` other than tab, newline and carriage return, named
/// for a message: "NUL", "U+001B".
pub fn control_char(text: &str) -> Option<String> {
    text.chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| match c {
            '\0' => "NUL".to_string(),
            other => format!("U+{:04X}", u32::from(other)),
        })
}

/// `text` as a message quotes it: at most [`QUOTED_CHARS`] characters (then "…"), with control
/// characters shown as `�`.
pub fn quoted(text: &str) -> String {
    quoted_at(text, QUOTED_CHARS)
}

/// Items as a person reads a list, joined by `conj`: "A", "A or B", "A, B or C".
pub fn listed<S: AsRef<str>>(items: &[S], conj: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} {conj} {}", init.join(", "), last.as_ref())
        }
    }
}

/// `text` cut at `max` characters (then "…"), control characters shown as `�`.
pub fn quoted_at(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_nul_is_named_and_ordinary_whitespace_is_not_a_control_character() {
        assert_eq!(control_char("INV\0"), Some("NUL".to_string()));
        assert_eq!(control_char("a\u{1b}[31m"), Some("U+001B".to_string()));
        assert_eq!(control_char("two\nlines\tand a tab\r"), None);
    }

    proptest! {
        #[test]
        fn a_quote_is_short_and_printable(text in ".{0,500}") {
            let q = quoted(&text);
            prop_assert!(q.chars().count() <= QUOTED_CHARS + 1);
            prop_assert!(!q.chars().any(char::is_control));
        }
    }
}
