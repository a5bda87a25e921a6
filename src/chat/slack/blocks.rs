//! Block Kit: the request card with its buttons, and the modals for a new request and for a
//! reject's reason. Built as JSON (the wire format) and checked against slack-morphism's model.

use crate::chat::render::{ButtonStyle, Card};
use crate::policy::{FieldKind, Workflow};
use serde_json::{json, Value};

/// `callback_id` of the new-request modal.
pub const NEW_CALLBACK: &str = "countersign_new";
/// `callback_id` of the reject-reason modal.
pub const REJECT_CALLBACK: &str = "countersign_reject";

/// Escapes text for mrkdwn: user input must never become a link, a mention or `<!channel>`.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Undoes [`escape`] (for text that is escaped again on its way out).
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

fn plain(text: &str, max: usize) -> Value {
    let t: String = text.chars().take(max).collect();
    json!({ "type": "plain_text", "text": t, "emoji": true })
}

/// Text a person typed, shown exactly: plain text (no formatting, links or mentions) and no
/// `:emoji:` codes turned into pictures.
fn typed(text: &str, max: usize) -> Value {
    let t: String = text.chars().take(max).collect();
    json!({ "type": "plain_text", "text": t, "emoji": false })
}

fn mrkdwn(text: &str) -> Value {
    let t: String = text.chars().take(3000).collect();
    json!({ "type": "mrkdwn", "text": t })
}

/// The card as Block Kit blocks. Buttons carry `REF@VERSION`, binding a vote to what was shown.
pub fn card_blocks(card: &Card) -> Vec<Value> {
    let mut blocks = vec![
        json!({ "type": "header", "text": plain(&card.title, 150) }),
        json!({ "type": "section", "text": mrkdwn(&format!(
            "*{}*\nRequested by *{}* · version {}",
            escape(&card.status_line), escape(&card.requester), card.version
        )) }),
        json!({ "type": "context", "elements": [mrkdwn(&escape(&card.timing))] }),
    ];
    // What people typed (values, reasons) is shown as plain text: a `*`, `_` or line of its own
    // can never pass for a line of the card.
    if let Some(a) = &card.amendment {
        blocks.push(json!({ "type": "section", "text": typed(&format!("✏️ {a}"), 3000) }));
    }
    // Label and value side by side: the label in bold, the value exactly as typed.
    for chunk in card.facts.chunks(5) {
        let fields: Vec<Value> = chunk
            .iter()
            .flat_map(|(label, value)| [mrkdwn(&format!("*{}*", escape(label))), typed(value, 2000)])
            .collect();
        blocks.push(json!({ "type": "section", "fields": fields }));
    }
    blocks.push(json!({ "type": "context", "elements": [mrkdwn(&format!("Rule `{}`", escape(&card.rule)))] }));
    if !card.groups.is_empty() || !card.decisions.is_empty() {
        let lines: Vec<String> = card
            .groups
            .iter()
            .chain(&card.decisions)
            .map(|d| format!("• {d}"))
            .collect();
        blocks.push(json!({ "type": "section", "text": typed(&lines.join("\n"), 3000) }));
    }
    if !card.actions.is_empty() {
        let at = format!("{}@{}", card.r#ref, card.version);
        let buttons: Vec<Value> = card
            .actions
            .iter()
            .map(|a| {
                let value = if a.kind.votes() { at.clone() } else { card.r#ref.clone() };
                let mut b = json!({
                    "type": "button", "action_id": a.kind.id(), "text": plain(a.kind.label(), 75), "value": value
                });
                match a.kind.style() {
                    ButtonStyle::Primary => b["style"] = json!("primary"),
                    ButtonStyle::Danger => b["style"] = json!("danger"),
                    ButtonStyle::Plain => {}
                }
                b
            })
            .collect();
        blocks.push(json!({ "type": "actions", "block_id": "countersign_actions", "elements": buttons }));
    }
    blocks
}

/// Where a modal's result should go, kept in `private_metadata`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModalContext {
    /// The workflow (new request) or ref (reject).
    pub subject: String,
    /// The version the reject button showed.
    pub version: Option<i32>,
    /// The channel the command or card was in.
    pub channel: Option<String>,
    /// The workspace.
    pub workspace: Option<String>,
}

/// The modal that asks for a new request's fields, prefilled with what was typed.
pub fn new_request_modal(wf: &Workflow, given: &[(String, String)], ctx: &ModalContext) -> Value {
    let blocks: Vec<Value> = wf
        .fields
        .iter()
        .map(|f| {
            let initial = given.iter().find(|(k, _)| k.eq_ignore_ascii_case(&f.name)).map(|(_, v)| v.as_str());
            let label = f.label.clone().unwrap_or_else(|| f.name.clone());
            let (label, element) = match &f.kind {
                FieldKind::Money { currency, .. } => (format!("{label} ({})", currency.code()), text_input(initial, false)),
                FieldKind::Text { max_length } => (label, {
                    let mut e = text_input(initial, max_length.is_some_and(|m| m > 200));
                    if let Some(m) = max_length {
                        e["max_length"] = json!(m);
                    }
                    e
                }),
                FieldKind::Integer { .. } => (label, text_input(initial, false)),
                FieldKind::Date => (format!("{label} (YYYY-MM-DD)"), {
                    let mut e = json!({ "type": "datepicker", "action_id": "value" });
                    if let Some(v) = initial {
                        e["initial_date"] = json!(v);
                    }
                    e
                }),
                FieldKind::Choice { options } => (label, {
                    let opts: Vec<Value> = options.iter().map(|o| json!({ "text": plain(o, 75), "value": o })).collect();
                    let mut e = json!({ "type": "static_select", "action_id": "value", "options": opts });
                    if let Some(o) = initial.and_then(|v| options.iter().find(|o| o.eq_ignore_ascii_case(v))) {
                        e["initial_option"] = json!({ "text": plain(o, 75), "value": o });
                    }
                    e
                }),
            };
            json!({ "type": "input", "block_id": f.name, "optional": !f.required, "label": plain(&label, 2000), "element": element })
        })
        .collect();
    json!({
        "type": "modal",
        "callback_id": NEW_CALLBACK,
        "private_metadata": serde_json::to_string(ctx).unwrap_or_default(),
        "title": plain(&format!("New {}", wf.id), 24),
        "submit": plain("Submit", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    })
}

fn text_input(initial: Option<&str>, multiline: bool) -> Value {
    let mut e = json!({ "type": "plain_text_input", "action_id": "value", "multiline": multiline });
    if let Some(v) = initial {
        e["initial_value"] = json!(v);
    }
    e
}

/// The modal that asks why a request is rejected.
pub fn reject_modal(ctx: &ModalContext) -> Value {
    json!({
        "type": "modal",
        "callback_id": REJECT_CALLBACK,
        "private_metadata": serde_json::to_string(ctx).unwrap_or_default(),
        "title": plain(&format!("Reject {}", ctx.subject), 24),
        "submit": plain("Reject", 24),
        "close": plain("Cancel", 24),
        "blocks": [{
            "type": "input",
            "block_id": "reason",
            "label": plain("Why? (the requester will see this)", 2000),
            "element": { "type": "plain_text_input", "action_id": "value", "multiline": true, "max_length": 500 }
        }],
    })
}

/// A `view_submission` answer that shows problems under their inputs.
pub fn field_errors(errors: &[(String, String)]) -> Value {
    let map: serde_json::Map<String, Value> = errors.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({ "response_action": "errors", "errors": map })
}
