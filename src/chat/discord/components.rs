//! Discord's shapes: the card as an embed with buttons, the modals, the interaction responses,
//! and the `/approval` command with typed options.

use crate::approval::Status;
use crate::chat::render::{ButtonStyle, Card};
use crate::policy::{FieldKind, Workflow};
use serde_json::{json, Value};

/// Ephemeral message flag.
pub const EPHEMERAL: u64 = 64;
/// Custom id prefix of the new-request modal.
pub const NEW_MODAL: &str = "countersign_new:";
/// Custom id prefix of the reject-reason modal.
pub const REJECT_MODAL: &str = "countersign_reject:";
/// Discord allows at most five inputs in a modal.
pub const MODAL_INPUTS: usize = 5;

/// Text a person typed, as Discord shows it literally: every markdown character escaped with a
/// backslash (bold, italics, code, spoilers, quotes, headings, masked links, mentions), so a
/// value can neither format the card nor pass for a link.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '[' | ']' | '<') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The card as an embed.
pub fn card_embed(card: &Card) -> Value {
    let color = match card.status {
        Status::Pending => 0xF1C40F,
        Status::Approved => 0x2ECC71,
        Status::Rejected => 0xE74C3C,
        Status::Cancelled | Status::Expired => 0x95A5A6,
    };
    let mut fields: Vec<Value> = card
        .facts
        .iter()
        .take(23)
        .map(|(k, v)| {
            let value = if v.is_empty() { "-".to_string() } else { literal(v) };
            json!({ "name": clip(k, 256), "value": clip(&value, 1024), "inline": true })
        })
        .collect();
    if !card.groups.is_empty() {
        fields.push(json!({ "name": "Approvals", "value": clip(&card.groups.join("\n"), 1024), "inline": false }));
    }
    if !card.decisions.is_empty() {
        let lines: Vec<String> = card.decisions.iter().map(|d| literal(d)).collect();
        fields.push(json!({ "name": "Decisions", "value": clip(&lines.join("\n"), 1024), "inline": false }));
    }
    let mut description = format!(
        "**{}**\nRequested by {} · version {}\n{}",
        card.status_line, card.requester, card.version, card.timing
    );
    if let Some(a) = &card.amendment {
        description.push_str("\n\n");
        description.push_str(&literal(a));
    }
    json!({
        "title": clip(&card.title, 256),
        "description": clip(&description, 4096),
        "color": color,
        "fields": fields,
        "footer": { "text": clip(&format!("Rule {}", card.rule), 2048) },
    })
}

/// The card's buttons (none once the request is final: an empty list removes them).
pub fn card_buttons(card: &Card) -> Vec<Value> {
    if card.actions.is_empty() {
        return Vec::new();
    }
    let at = format!("{}@{}", card.r#ref, card.version);
    let buttons: Vec<Value> = card
        .actions
        .iter()
        .map(|a| {
            let target = if a.kind.votes() { at.clone() } else { card.r#ref.clone() };
            let style = match a.kind.style() {
                ButtonStyle::Primary => 3,
                ButtonStyle::Danger => 4,
                ButtonStyle::Plain => 2,
            };
            json!({ "type": 2, "style": style, "label": a.kind.label(), "custom_id": format!("{}:{target}", a.kind.id()) })
        })
        .collect();
    vec![json!({ "type": 1, "components": buttons })]
}

/// A message carrying the card under `content`, or under the card's notification line (what a
/// phone shows); mentions are never parsed from request text.
pub fn card_message(card: &Card, content: Option<&str>) -> Value {
    let content = content.map_or_else(|| literal(&card.notification()), str::to_owned);
    json!({
        "content": clip(&content, 2000),
        "embeds": [card_embed(card)],
        "components": card_buttons(card),
        "allowed_mentions": { "parse": [] },
    })
}

/// An immediate ephemeral answer (type 4).
pub fn ephemeral(text: &str, cards: &[Card]) -> Value {
    json!({
        "type": 4,
        "data": {
            "content": clip(text, 2000),
            "embeds": cards.iter().take(10).map(card_embed).collect::<Vec<_>>(),
            "components": cards.first().map(card_buttons).unwrap_or_default(),
            "flags": EPHEMERAL,
            "allowed_mentions": { "parse": [] },
        }
    })
}

/// "Working on it": a deferred ephemeral answer (type 5), edited when the work is done.
pub fn deferred() -> Value {
    json!({ "type": 5, "data": { "flags": EPHEMERAL } })
}

/// Acknowledges a button press without changing its message (type 6): the card is updated
/// through the outbox like every other copy.
pub fn deferred_update() -> Value {
    json!({ "type": 6 })
}

fn modal(custom_id: String, title: &str, inputs: Vec<Value>) -> Value {
    let rows: Vec<Value> = inputs
        .into_iter()
        .map(|i| json!({ "type": 1, "components": [i] }))
        .collect();
    json!({ "type": 9, "data": { "custom_id": custom_id, "title": clip(title, 45), "components": rows } })
}

fn input(id: &str, label: &str, required: bool, paragraph: bool, value: Option<&str>, max: Option<usize>) -> Value {
    let mut i = json!({
        "type": 4, "custom_id": id, "label": clip(label, 45), "style": if paragraph { 2 } else { 1 }, "required": required,
    });
    if let Some(v) = value {
        i["value"] = json!(clip(v, 4000));
    }
    if let Some(m) = max {
        i["max_length"] = json!(m.min(4000));
    }
    i
}

/// The new-request modal: the workflow's fields (at most five), prefilled with what was typed.
pub fn new_request_modal(wf: &Workflow, given: &[(String, String)]) -> Value {
    let inputs = wf
        .fields
        .iter()
        .take(MODAL_INPUTS)
        .map(|f| {
            let value = given
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&f.name))
                .map(|(_, v)| v.as_str());
            let label = f.label.clone().unwrap_or_else(|| f.name.clone());
            let (label, paragraph, max) = match &f.kind {
                FieldKind::Money { currency, .. } => (format!("{label} ({})", currency.code()), false, None),
                FieldKind::Text { max_length } => (label, max_length.is_some_and(|m| m > 200), *max_length),
                FieldKind::Integer { .. } => (label, false, None),
                FieldKind::Date => (format!("{label} (YYYY-MM-DD)"), false, Some(10)),
                FieldKind::Choice { options } => (format!("{label} ({})", options.join("/")), false, None),
            };
            input(&f.name, &label, f.required, paragraph, value, max)
        })
        .collect();
    modal(format!("{NEW_MODAL}{}", wf.id), &format!("New {}", wf.id), inputs)
}

/// The reject-reason modal for `REF@VERSION`.
pub fn reject_modal(target: &str) -> Value {
    let reason = input(
        "reason",
        "Why? (the requester will see this)",
        true,
        true,
        None,
        Some(500),
    );
    modal(
        format!("{REJECT_MODAL}{target}"),
        &format!("Reject {}", target.split('@').next().unwrap_or(target)),
        vec![reason],
    )
}

fn string_opt(name: &str, description: &str, required: bool) -> Value {
    json!({ "type": 3, "name": name, "description": description, "required": required })
}

/// The `/approval` command with a subcommand per verb of the command language.
pub fn approval_command() -> Value {
    let r#ref = || string_opt("ref", "The request, e.g. INV-42", true);
    let sub = |name: &str, description: &str, options: Vec<Value>| json!({ "type": 1, "name": name, "description": description, "options": options });
    let mut workflow = string_opt("workflow", "The workflow, e.g. invoice", true);
    workflow["autocomplete"] = json!(true);
    let mut policy_wf = string_opt("workflow", "One workflow (default: all)", false);
    policy_wf["autocomplete"] = json!(true);
    let mut filter = string_opt("filter", "Which requests", false);
    filter["choices"] = json!([
        { "name": "pending", "value": "pending" }, { "name": "mine", "value": "mine" }, { "name": "all", "value": "all" }
    ]);
    json!({
        "name": "approval",
        "type": 1,
        "description": "Ask for, decide and look up approvals",
        "options": [
            sub("new", "Open a request (missing fields open a form)", vec![workflow, string_opt("fields", "field=value ... (quote values with spaces)", false)]),
            sub("approve", "Approve a request", vec![r#ref()]),
            sub("reject", "Reject a request (a reason is required)", vec![r#ref(), string_opt("reason", "Why", true)]),
            sub("cancel", "Withdraw your own pending request", vec![r#ref(), string_opt("reason", "Why", false)]),
            sub("amend", "Change your pending request (earlier votes void)", vec![r#ref(), string_opt("fields", "field=value ...", true)]),
            sub("show", "The request card", vec![r#ref()]),
            sub("list", "Requests you may see", vec![filter]),
            sub("history", "The audit trail of one request", vec![r#ref()]),
            sub("policy", "The rules, in plain language", vec![policy_wf]),
            sub("whoami", "Your person, roles and identities", vec![]),
            sub("help", "The commands", vec![]),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn typed_text_is_shown_literally_in_discord() {
        assert_eq!(
            literal("**bold** [bank](https://evil.test) <@1>"),
            r"\*\*bold\*\* \[bank\](https://evil.test) \<@1\>"
        );
        assert_eq!(literal("ACME GmbH 12,500.00"), "ACME GmbH 12,500.00");
    }
}
