//! The neutral card model and its plain-text form. Slack Block Kit and Discord embeds are
//! built from the same [`Card`], so every platform shows the same facts.

use crate::approval::Status;
use crate::audit::StoredEntry;
use crate::engine::{Refusal, RequestView};
use std::fmt::Write as _;

/// How a button should look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ButtonStyle {
    /// The affirmative action.
    Primary,
    /// The destructive action.
    Danger,
    /// Anything else.
    Plain,
}

/// A button on a card, and the command it stands for (bound to the version shown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardAction {
    /// Button label.
    pub label: &'static str,
    /// The command the button stands for.
    pub command: String,
    /// How it looks.
    pub style: ButtonStyle,
}

/// Everything a card shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Card {
    /// The request's ref, `INV-1`.
    pub r#ref: String,
    /// "Invoice payment · INV-1".
    pub title: String,
    /// The request's state.
    pub status: Status,
    /// "Pending: needs 1 of 1 finance-approver, 0 of 1 finance-director".
    pub status_line: String,
    /// "Alice Analyst".
    pub requester: String,
    /// The version shown (votes from this card are bound to it).
    pub version: i32,
    /// Field labels and formatted values.
    pub facts: Vec<(String, String)>,
    /// The rule that applies.
    pub rule: String,
    /// Who decided what: "Approved by Carol Approver (finance-approver)".
    pub decisions: Vec<String>,
    /// Buttons (only while pending).
    pub actions: Vec<CardAction>,
}

/// Builds the card of a request.
pub fn card(v: &RequestView) -> Card {
    let status_line = match v.status {
        Status::Pending => format!("Pending: needs {}", v.needed_summary()),
        Status::Approved => "Approved".to_string(),
        Status::Rejected => "Rejected".to_string(),
        Status::Cancelled => "Cancelled by the requester".to_string(),
        Status::Expired => "Expired without a decision".to_string(),
    };
    let mut decisions: Vec<String> = v
        .groups
        .iter()
        .flat_map(|g| {
            g.filled_by
                .iter()
                .map(move |p| format!("Approved by {} ({})", p.name, g.role))
        })
        .collect();
    if let Some((who, reason)) = &v.rejected_by {
        decisions.push(format!("Rejected by {}: {}", who.name, reason));
    }
    if let Some(reason) = &v.cancel_reason {
        decisions.push(format!("Cancelled: {reason}"));
    }
    let at = format!("{}@{}", v.r#ref, v.version);
    let actions = match v.status {
        Status::Pending => vec![
            CardAction {
                label: "Approve",
                command: format!("approve {at}"),
                style: ButtonStyle::Primary,
            },
            CardAction {
                label: "Reject",
                command: format!("reject {at} <reason>"),
                style: ButtonStyle::Danger,
            },
            CardAction {
                label: "Details",
                command: format!("history {}", v.r#ref),
                style: ButtonStyle::Plain,
            },
        ],
        Status::Approved | Status::Rejected | Status::Cancelled | Status::Expired => Vec::new(),
    };
    Card {
        r#ref: v.r#ref.clone(),
        title: format!("{} · {}", v.workflow_title, v.r#ref),
        status: v.status,
        status_line,
        requester: v.requester.name.clone(),
        version: v.version,
        facts: v.fields.iter().map(|f| (f.label.clone(), f.value.clone())).collect(),
        rule: v.rule.clone(),
        decisions,
        actions,
    }
}

impl Card {
    /// The card as text, for the console and as the notification fallback of chat platforms.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "+-- {} (version {})", self.title, self.version);
        let _ = writeln!(s, "| {}", self.status_line);
        let _ = writeln!(s, "| Requested by {}", self.requester);
        for (label, value) in &self.facts {
            let _ = writeln!(s, "| {label}: {value}");
        }
        let _ = writeln!(s, "| Rule: {}", self.rule);
        for d in &self.decisions {
            let _ = writeln!(s, "| {d}");
        }
        if !self.actions.is_empty() {
            let buttons: Vec<String> = self
                .actions
                .iter()
                .map(|a| format!("[{}: {}]", a.label, a.command))
                .collect();
            let _ = writeln!(s, "| {}", buttons.join(" "));
        }
        s.push_str("+--");
        s
    }
}

/// What the requester is told when their request reaches a final state they did not cause.
pub fn confirmation(v: &RequestView) -> Option<String> {
    let what = format!("Your request {} ({})", v.r#ref, v.workflow_title);
    match v.status {
        Status::Approved => {
            let names: Vec<&str> = v.approvers().iter().map(|p| p.name.as_str()).collect();
            Some(format!(
                "{what} was approved by {} under rule {}.",
                names.join(" and "),
                v.rule
            ))
        }
        Status::Rejected => v
            .rejected_by
            .as_ref()
            .map(|(who, reason)| format!("{what} was rejected by {}: {reason}", who.name)),
        Status::Expired => Some(format!(
            "{what} expired without a decision. Open a new one if it is still needed."
        )),
        Status::Pending | Status::Cancelled => None,
    }
}

/// A refusal as shown to the person who attempted it.
pub fn refusal(r: &Refusal) -> String {
    let mut s = format!("Refused: {}", r.message);
    for f in &r.fields {
        let _ = write!(s, "\n  - {}: {}", f.field, f.message);
    }
    s
}

/// A list of requests, one line each.
pub fn list(views: &[RequestView]) -> String {
    if views.is_empty() {
        return "No requests to show.".to_string();
    }
    views
        .iter()
        .map(|v| {
            let status = match v.status {
                Status::Pending => format!("pending, needs {}", v.needed_summary()),
                other => other.to_string(),
            };
            let first = v.fields.first().map(|f| format!(" {}", f.value)).unwrap_or_default();
            format!(
                "{}  {}{}  by {}  ({status})",
                v.r#ref, v.workflow_title, first, v.requester.name
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One request's audit trail, one entry a line.
pub fn history(r#ref: &str, entries: &[StoredEntry]) -> String {
    let mut s = format!("Audit trail of {ref}:");
    for e in entries {
        let seq = e
            .seq
            .map(|n| format!("#{n}"))
            .unwrap_or_else(|| "(sealing)".to_string());
        let who = e.actor.as_deref().unwrap_or("system");
        let outcome = match &e.reason {
            Some(reason) => format!("refused: {reason}"),
            None => e.outcome.clone(),
        };
        let version = e.version.map(|v| format!(" v{v}")).unwrap_or_default();
        let _ = write!(
            s,
            "\n  {seq:>9} {} {who:<8} {}{version} {outcome}",
            e.at.format("%Y-%m-%d %H:%M:%SZ"),
            e.action
        );
    }
    s
}
