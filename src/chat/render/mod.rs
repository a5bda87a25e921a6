//! The neutral card model and its plain-text form. Slack Block Kit and Discord embeds are
//! built from the same [`Card`], so every platform shows the same facts.

mod effect;
use effect::effect_lines;
pub use effect::effect_state_line;

use crate::approval::Status;
use crate::audit::StoredEntry;
use crate::engine::{GroupView, Refusal, RequestView};
use crate::policy::input::listed;
use chrono::{DateTime, Utc};
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

/// What a card's button means. Its id on the wire (`approve`, `reject`, `details`) is fixed and
/// independent of the label people read, so a label can change without breaking a click.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ButtonKind {
    /// Approve the version shown.
    Approve,
    /// Reject the version shown (a form asks why).
    Reject,
    /// The request's audit trail, privately.
    Details,
}

impl ButtonKind {
    /// The id platforms send back when it is clicked.
    pub fn id(self) -> &'static str {
        match self {
            ButtonKind::Approve => "approve",
            ButtonKind::Reject => "reject",
            ButtonKind::Details => "details",
        }
    }

    /// The button an id stands for; `None` for ids that are not ours.
    pub fn from_id(id: &str) -> Option<ButtonKind> {
        [ButtonKind::Approve, ButtonKind::Reject, ButtonKind::Details]
            .into_iter()
            .find(|k| k.id() == id)
    }

    /// What people read on it.
    pub fn label(self) -> &'static str {
        match self {
            ButtonKind::Approve => "Approve",
            ButtonKind::Reject => "Reject",
            ButtonKind::Details => "Details",
        }
    }

    /// How it looks.
    pub fn style(self) -> ButtonStyle {
        match self {
            ButtonKind::Approve => ButtonStyle::Primary,
            ButtonKind::Reject => ButtonStyle::Danger,
            ButtonKind::Details => ButtonStyle::Plain,
        }
    }

    /// Whether it casts a vote (and so carries the version shown).
    pub fn votes(self) -> bool {
        matches!(self, ButtonKind::Approve | ButtonKind::Reject)
    }
}

/// A button on a card, and the command it stands for (bound to the version shown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardAction {
    /// What it means.
    pub kind: ButtonKind,
    /// The command the button stands for.
    pub command: String,
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
    /// "Pending: still needed 1 finance-director".
    pub status_line: String,
    /// "Alice Analyst".
    pub requester: String,
    /// The version shown (votes from this card are bound to it).
    pub version: i32,
    /// "Asked 2026-01-05 09:00 UTC · expires in 72 h".
    pub timing: String,
    /// What the latest amendment changed, when there was one.
    pub amendment: Option<String>,
    /// Field labels and formatted values.
    pub facts: Vec<(String, String)>,
    /// The rule that applies.
    pub rule: String,
    /// One line per approval group: "finance-approver ✓ Carol Approver",
    /// "finance-director: waiting for Dave Director".
    pub groups: Vec<String>,
    /// How it ended, when a person ended it: "Rejected by Dave Director: ...".
    pub decisions: Vec<String>,
    /// Buttons (only while pending).
    pub actions: Vec<CardAction>,
}

/// A value a person typed, on one line: a line break is shown as " ↵ ", so that no value can
/// add a line of its own to a card ("ACME\n\n• Approved by Dave Director").
pub fn one_line(text: &str) -> String {
    text.replace("\r\n", "\n").replace(['\n', '\r'], " ↵ ")
}

/// A time on a card, in UTC to the minute.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "in 71 h", "in 25 min", "now": how long until `at`, rounded down.
fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let left = at - now;
    match (left.num_hours(), left.num_minutes()) {
        (_, m) if m <= 0 => "now".to_string(),
        (0, m) => format!("in {m} min"),
        (h, _) => format!("in {h} h"),
    }
}

/// One group's line: who filled it and, while pending, who it waits for.
fn group_line(g: &GroupView, pending: bool) -> String {
    let filled: Vec<&str> = g.filled_by.iter().map(|p| p.name.as_str()).collect();
    let mut line = g.role.clone();
    if !filled.is_empty() {
        let _ = write!(line, " ✓ {}", filled.join(", "));
    }
    let missing = g.missing();
    if missing == 0 {
        return line;
    }
    let sep = if filled.is_empty() { ":" } else { " ·" };
    if !pending {
        let _ = write!(line, "{sep} {} of {}", g.filled_by.len(), g.needed);
        return line;
    }
    let waiting: Vec<&str> = g.waiting_for.iter().map(|p| p.name.as_str()).collect();
    let more = if filled.is_empty() && missing == 1 {
        String::new()
    } else if filled.is_empty() {
        format!(" {missing} needed,")
    } else {
        format!(" {missing} more,")
    };
    let who = match waiting.len() {
        0 => "nobody else holds this role: ask the workflow's owner".to_string(),
        n if n < missing => format!(
            "only {} can still approve: ask the workflow's owner",
            listed(&waiting, "and")
        ),
        n if n == missing => format!("waiting for {}", listed(&waiting, "and")),
        _ if missing == 1 => format!("waiting for {}", listed(&waiting, "or")),
        _ => format!("waiting for {missing} of {}", listed(&waiting, "and")),
    };
    let _ = write!(line, "{sep}{more} {who}");
    line
}

/// "Amended from version 1: amount 12,500.00 EUR → 9,500.00 EUR; 1 earlier vote voided; rule
/// moved from large to standard".
fn amendment_line(v: &RequestView) -> Option<String> {
    let a = v.amended.as_ref()?;
    let mut parts: Vec<String> = a
        .changes
        .iter()
        .map(|c| match (&c.before, &c.after) {
            (Some(b), Some(n)) => format!("{} {} → {}", c.label, one_line(b), one_line(n)),
            (None, Some(n)) => format!("{} set to {}", c.label, one_line(n)),
            (Some(b), None) => format!("{} cleared (was {})", c.label, one_line(b)),
            (None, None) => c.label.clone(),
        })
        .collect();
    match a.votes_voided {
        0 => {}
        1 => parts.push("1 earlier vote voided".to_string()),
        n => parts.push(format!("{n} earlier votes voided")),
    }
    if a.previous_rule != v.rule {
        parts.push(format!("rule moved from {} to {}", a.previous_rule, v.rule));
    }
    Some(format!("Amended from version {}: {}", a.from_version, parts.join("; ")))
}

/// Builds the card of a request as it stands at `now` (which the expiry countdown is
/// counted from).
pub fn card(v: &RequestView, now: DateTime<Utc>) -> Card {
    let status_line = match v.status {
        Status::Pending => format!("Pending: still needed {}", v.needed_summary()),
        Status::Approved => "Approved".to_string(),
        Status::Rejected => "Rejected".to_string(),
        Status::Cancelled => "Cancelled by the requester".to_string(),
        Status::Expired => "Expired without a decision".to_string(),
    };
    let timing = match (v.status, v.decided_at) {
        (Status::Pending, _) | (_, None) => {
            format!("Asked {} · expires {}", when(v.created_at), until(now, v.expires_at))
        }
        (_, Some(at)) => format!("Asked {} · decided {}", when(v.created_at), when(at)),
    };
    let pending = v.status == Status::Pending;
    let mut decisions = Vec::new();
    if let Some((who, reason)) = &v.rejected_by {
        decisions.push(format!("Rejected by {}: {}", who.name, one_line(reason)));
    }
    if let Some(reason) = &v.cancel_reason {
        decisions.push(format!("Cancelled: {}", one_line(reason)));
    }
    decisions.extend(effect_lines(v));
    let at = format!("{}@{}", v.r#ref, v.version);
    let actions = match v.status {
        Status::Pending => vec![
            CardAction {
                kind: ButtonKind::Approve,
                command: format!("approve {at}"),
            },
            CardAction {
                kind: ButtonKind::Reject,
                command: format!("reject {at} <reason>"),
            },
            CardAction {
                kind: ButtonKind::Details,
                command: format!("history {}", v.r#ref),
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
        timing,
        amendment: amendment_line(v),
        facts: v.fields.iter().map(|f| (f.label.clone(), one_line(&f.value))).collect(),
        rule: v.rule.clone(),
        groups: v.groups.iter().map(|g| group_line(g, pending)).collect(),
        decisions,
        actions,
    }
}

/// The card as `viewer` (a person id) sees it: the requester's own copy has no Approve or
/// Reject buttons, which they may not use.
pub fn card_for(v: &RequestView, now: DateTime<Utc>, viewer: &str) -> Card {
    let mut card = card(v, now);
    if viewer == v.requester.id {
        card.actions.retain(|a| !a.kind.votes());
    }
    card
}

impl Card {
    /// What a notification shows (a phone's lock screen, a client without blocks): the ref,
    /// the first facts (the amount and the main field), the requester and the state.
    pub fn notification(&self) -> String {
        let facts: Vec<&str> = self.facts.iter().take(2).map(|(_, v)| v.as_str()).collect();
        let mut s = self.r#ref.clone();
        for f in facts {
            let _ = write!(s, " · {f}");
        }
        let _ = write!(s, " · from {} — {}", self.requester, self.status_line);
        s
    }

    /// The card as text, for the console and as the notification fallback of chat platforms.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "+-- {} (version {})", self.title, self.version);
        let _ = writeln!(s, "| {}", self.status_line);
        let _ = writeln!(s, "| Requested by {}", self.requester);
        let _ = writeln!(s, "| {}", self.timing);
        if let Some(a) = &self.amendment {
            let _ = writeln!(s, "| {a}");
        }
        for (label, value) in &self.facts {
            let _ = writeln!(s, "| {label}: {value}");
        }
        let _ = writeln!(s, "| Rule: {}", self.rule);
        for line in self.groups.iter().chain(&self.decisions) {
            let _ = writeln!(s, "| {line}");
        }
        if !self.actions.is_empty() {
            let buttons: Vec<String> = self
                .actions
                .iter()
                .map(|a| format!("[{}: {}]", a.kind.label(), a.command))
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
                Status::Pending => format!("pending, still needed {}", v.needed_summary()),
                other => other.to_string(),
            };
            let facts: Vec<&str> = v.fields.iter().take(3).map(|f| f.value.as_str()).collect();
            format!(
                "{}  {}  {}  by {}  ({status})",
                v.r#ref,
                v.workflow_title,
                facts.join(" · "),
                v.requester.name
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

#[cfg(test)]
mod tests {
    use super::ButtonKind;

    #[test]
    fn a_button_is_known_by_its_id_never_by_its_label() {
        for kind in [ButtonKind::Approve, ButtonKind::Reject, ButtonKind::Details] {
            assert_eq!(ButtonKind::from_id(kind.id()), Some(kind));
            assert_eq!(ButtonKind::from_id(kind.label()), None, "a label is not an id");
        }
        assert_eq!(ButtonKind::from_id("approve_all"), None);
    }
}
