//! The command language shared by every platform: `/approval new invoice amount=1200.00 ...`.

use crate::engine::ListFilter;
use thiserror::Error;

/// A parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `new <workflow> [field=value ...]`
    New {
        /// Workflow id.
        workflow: String,
        /// Typed fields.
        fields: Vec<(String, String)>,
    },
    /// `approve <REF>[@VERSION]`
    Approve {
        /// Ref as typed.
        r#ref: String,
        /// The version the voter saw, when the command carries it.
        version: Option<i32>,
    },
    /// `reject <REF>[@VERSION] <reason...>`
    Reject {
        /// Ref as typed.
        r#ref: String,
        /// The version the voter saw.
        version: Option<i32>,
        /// Why (required; the engine refuses an empty one).
        reason: String,
    },
    /// `cancel <REF> [reason...]`
    Cancel {
        /// Ref.
        r#ref: String,
        /// Why, optional.
        reason: Option<String>,
    },
    /// `amend <REF> field=value ...`
    Amend {
        /// Ref.
        r#ref: String,
        /// Fields to change.
        fields: Vec<(String, String)>,
    },
    /// `retry <REF>`: run a failed effect of an approved request again.
    Retry {
        /// Ref.
        r#ref: String,
    },
    /// `show <REF>`
    Show {
        /// Ref.
        r#ref: String,
    },
    /// `list [pending|mine|all]`
    List(ListFilter),
    /// `history <REF>`
    History {
        /// Ref.
        r#ref: String,
    },
    /// `policy [workflow]`
    Policy {
        /// One workflow, or all.
        workflow: Option<String>,
    },
    /// `whoami`
    Whoami,
    /// `help`
    Help,
}

/// Why a line is not a command; the message says what to type instead.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CommandError {
    /// Nothing after `/approval`.
    #[error("Type a command, e.g. `new invoice amount=1200.00 vendor=\"ACME GmbH\"`, or `help`.")]
    Empty,
    /// An unknown verb.
    #[error("There is no command {0:?}. Commands: new, approve, reject, cancel, amend, show, list, history, policy, whoami, help.")]
    UnknownVerb(String),
    /// A missing or malformed argument.
    #[error("{0}")]
    Usage(String),
    /// An unterminated quote.
    #[error("A quote is not closed: {0}")]
    Quote(String),
}

/// The usage line of each verb.
pub const USAGE: &[(&str, &str)] = &[
    (
        "new",
        "new <workflow> [field=value ...]     open a request (values with spaces in quotes)",
    ),
    (
        "approve",
        "approve <REF>                        approve, e.g. approve INV-42",
    ),
    (
        "reject",
        "reject <REF> <reason...>             reject; a reason is required",
    ),
    (
        "cancel",
        "cancel <REF> [reason...]             withdraw your own pending request",
    ),
    (
        "amend",
        "amend <REF> field=value ...          change your pending request (earlier votes void)",
    ),
    (
        "retry",
        "retry <REF>                          run a failed effect again (owners, approvers)",
    ),
    ("show", "show <REF>                           the request card"),
    ("list", "list [pending|mine|all]              requests you may see"),
    (
        "history",
        "history <REF>                        the audit trail of one request",
    ),
    (
        "policy",
        "policy [workflow]                    the rules, in plain language",
    ),
    (
        "whoami",
        "whoami                               your person, roles and identities",
    ),
    ("help", "help                                 this list"),
];

fn usage(verb: &str) -> CommandError {
    let line = USAGE.iter().find(|(v, _)| *v == verb).map(|(_, l)| *l).unwrap_or(verb);
    CommandError::Usage(format!("Usage: {}", line.split("  ").next().unwrap_or(line).trim()))
}

/// Splits a line into words; quotes group words and are removed (`vendor="ACME GmbH"`).
pub fn split_words(line: &str) -> Result<Vec<String>, CommandError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            // A quote opens only at the start of a value, so apostrophes in words stay
            // ("last week's invoice").
            (None, '"' | '\'' | '“' | '”') if !in_word || cur.ends_with('=') => {
                quote = Some(if c == '“' { '”' } else { c });
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(CommandError::Quote(line.trim().to_string()));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Reads `field=value` words.
fn fields(verb: &str, words: &[String]) -> Result<Vec<(String, String)>, CommandError> {
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(CommandError::Usage(format!(
                "\"{}\" is not a field=value pair. Usage: {}",
                crate::policy::input::quoted(w),
                USAGE
                    .iter()
                    .find(|(v, _)| *v == verb)
                    .map(|(_, l)| l.split("  ").next().unwrap_or(l))
                    .unwrap_or(verb)
            ))),
        })
        .collect()
}

/// Reads a list of `field=value` words typed as one text (a Discord option).
pub fn field_list(verb: &str, text: &str) -> Result<Vec<(String, String)>, CommandError> {
    fields(verb, &split_words(text)?)
}

/// The ref and version an Approve or Reject button carries (`INV-1@2`). A button always names
/// the version it showed; a value without one, or with one that is not a version (tampered, or
/// out of range), gives version 0, which no request has: the vote is refused as stale, never
/// counted on whatever version is current.
pub fn button_vote_target(value: &str) -> (String, i32) {
    match value.split_once('@') {
        Some((r, v)) => (r.to_string(), v.parse::<i32>().ok().filter(|v| *v >= 1).unwrap_or(0)),
        None => (value.to_string(), 0),
    }
}

/// Splits `INV-1@2` into the ref and the version the voter saw.
pub fn ref_and_version(word: &str) -> Result<(String, Option<i32>), CommandError> {
    match word.split_once('@') {
        None => Ok((word.to_string(), None)),
        Some((r, v)) => {
            let v = v
                .trim_start_matches(['v', 'V'])
                .parse::<i32>()
                .ok()
                .filter(|v| *v >= 1)
                .ok_or_else(|| {
                    CommandError::Usage(format!(
                        "\"{}\": after @ comes the version you saw, e.g. INV-42@2",
                        crate::policy::input::quoted(word)
                    ))
                })?;
            Ok((r.to_string(), Some(v)))
        }
    }
}

/// The rest of the words as one text, or `None` when there are none.
fn rest(words: &[String]) -> Option<String> {
    (!words.is_empty()).then(|| words.join(" "))
}

/// Parses one line of the command language (with or without a leading `/approval`).
pub fn parse(line: &str) -> Result<Command, CommandError> {
    let words = split_words(line)?;
    let words: &[String] = match words.first().map(String::as_str) {
        Some("/approval" | "approval") => &words[1..],
        _ => &words,
    };
    let Some((verb, args)) = words.split_first() else {
        return Err(CommandError::Empty);
    };
    let verb = verb.to_lowercase();
    let one_ref = |args: &[String]| match args {
        [r] => Ok(r.clone()),
        _ => Err(usage(&verb)),
    };
    Ok(match verb.as_str() {
        "new" => match args.split_first() {
            Some((wf, rest)) if !wf.contains('=') => Command::New {
                workflow: wf.clone(),
                fields: fields("new", rest)?,
            },
            _ => return Err(usage("new")),
        },
        "approve" => {
            let (r#ref, version) = ref_and_version(&one_ref(args)?)?;
            Command::Approve { r#ref, version }
        }
        "reject" => match args.split_first() {
            Some((r, reason)) => {
                let (r#ref, version) = ref_and_version(r)?;
                Command::Reject {
                    r#ref,
                    version,
                    reason: reason.join(" "),
                }
            }
            None => return Err(usage("reject")),
        },
        "cancel" => match args.split_first() {
            Some((r, reason)) => Command::Cancel {
                r#ref: r.clone(),
                reason: rest(reason),
            },
            None => return Err(usage("cancel")),
        },
        "amend" => match args.split_first() {
            Some((r, f)) if !f.is_empty() => Command::Amend {
                r#ref: r.clone(),
                fields: fields("amend", f)?,
            },
            _ => return Err(usage("amend")),
        },
        "show" => Command::Show { r#ref: one_ref(args)? },
        "retry" => Command::Retry { r#ref: one_ref(args)? },
        "history" => Command::History { r#ref: one_ref(args)? },
        "list" => Command::List(match args.first().map(|s| s.to_lowercase()).as_deref() {
            None | Some("pending") if args.len() <= 1 => ListFilter::Pending,
            Some("mine") if args.len() == 1 => ListFilter::Mine,
            Some("all") if args.len() == 1 => ListFilter::All,
            _ => return Err(usage("list")),
        }),
        "policy" => match args {
            [] => Command::Policy { workflow: None },
            [wf] => Command::Policy {
                workflow: Some(wf.clone()),
            },
            _ => return Err(usage("policy")),
        },
        "whoami" if args.is_empty() => Command::Whoami,
        "help" => Command::Help,
        "whoami" => return Err(usage("whoami")),
        other => return Err(CommandError::UnknownVerb(other.to_string())),
    })
}

#[cfg(test)]
mod tests;
