//! Request references: a workflow prefix and a per-workflow number, `INV-42`.

use std::fmt;

/// A parsed reference. Prefixes are upper-case; input is accepted in any case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref {
    prefix: String,
    number: u64,
}

impl Ref {
    /// Builds a ref from a workflow prefix and a number.
    pub fn new(prefix: &str, number: u64) -> Self {
        Ref {
            prefix: prefix.to_ascii_uppercase(),
            number,
        }
    }

    /// Parses `INV-42` (or `inv-42`). The message says what a ref looks like.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "\"{}\" is not a request ref; a ref looks like INV-42",
                crate::policy::input::quoted(text.trim())
            )
        };
        let (prefix, number) = text.trim().split_once('-').ok_or_else(bad)?;
        let prefix_ok = (1..=8).contains(&prefix.len()) && prefix.chars().all(|c| c.is_ascii_alphabetic());
        let number_ok = !number.is_empty() && number.len() <= 18 && number.chars().all(|c| c.is_ascii_digit());
        if !prefix_ok || !number_ok {
            return Err(bad());
        }
        let number: u64 = number.parse().map_err(|_| bad())?;
        if number == 0 {
            return Err(bad());
        }
        Ok(Ref::new(prefix, number))
    }

    /// The workflow prefix, upper-case.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The per-workflow number, from 1.
    pub fn number(&self) -> u64 {
        self.number
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.prefix, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::Ref;

    #[test]
    fn a_ref_is_read_in_any_case_and_shown_upper_case() {
        assert_eq!(Ref::parse("inv-42").unwrap().to_string(), "INV-42");
    }

    #[test]
    fn malformed_refs_are_refused_with_an_example() {
        for bad in [
            "INV",
            "INV-",
            "-4",
            "INV-0",
            "INV-4x",
            "IN V-4",
            "TOOLONGPREFIX-1",
            "INV-99999999999999999999",
        ] {
            let err = Ref::parse(bad).unwrap_err();
            assert!(err.contains("INV-42"), "{bad}: {err}");
        }
    }
}
