//! Block Kit: the request card with its buttons, and the modals for a new request and for a
//! reject's reason. Built with slack-morphism's typed blocks; they become JSON only at the wire.

use crate::chat::render::{ButtonKind, ButtonStyle, Card};
use crate::policy::{FieldKind, Workflow};
use slack_morphism::prelude::*;
use std::collections::HashMap;

/// `callback_id` of the new-request modal.
pub const NEW_CALLBACK: &str = "countersign_new";
/// `callback_id` of the reject-reason modal.
pub const REJECT_CALLBACK: &str = "countersign_reject";
/// `block_id` of a card's buttons.
const ACTIONS_BLOCK: &str = "countersign_actions";
/// `action_id` of every modal input: the block id names the field.
const INPUT_ACTION: &str = "value";

/// Escapes text for mrkdwn: user input must never become a link, a mention or `<!channel>`.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Undoes [`escape`] (for text that is escaped again on its way out).
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Our own wording (titles, labels): plain text where `:emoji:` codes are pictures.
pub(super) fn plain(text: &str, max: usize) -> SlackBlockPlainText {
    SlackBlockPlainText::new(cut(text, max)).with_emoji(true)
}

/// Text a person typed, shown exactly: plain text (no formatting, links or mentions) and no
/// `:emoji:` codes turned into pictures.
fn typed(text: &str, max: usize) -> SlackBlockPlainText {
    SlackBlockPlainText::new(cut(text, max)).with_emoji(false)
}

/// mrkdwn, cut to a section's limit; callers escape what people typed.
pub(super) fn mrkdwn(text: &str) -> SlackBlockMarkDownText {
    SlackBlockMarkDownText::new(cut(text, 3000))
}

/// A section of escaped mrkdwn (a reply's or a preface's text), without a length cut.
pub(super) fn escaped_section(text: &str) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(SlackBlockMarkDownText::new(escape(text)).into())
        .into()
}

fn section(text: impl Into<SlackBlockText>) -> SlackBlock {
    SlackSectionBlock::new().with_text(text.into()).into()
}

fn context(text: SlackBlockMarkDownText) -> SlackBlock {
    SlackContextBlock::new(vec![text.into()]).into()
}

/// The card as Block Kit blocks. Buttons carry `REF@VERSION`, binding a vote to what was shown.
pub fn card_blocks(card: &Card) -> Vec<SlackBlock> {
    let mut blocks = vec![
        SlackHeaderBlock::new(plain(&card.title, 150).into()).into(),
        section(mrkdwn(&format!(
            "*{}*\nRequested by *{}* · version {}",
            escape(&card.status_line),
            escape(&card.requester),
            card.version
        ))),
        context(mrkdwn(&escape(&card.timing))),
    ];
    // What people typed (values, reasons) is shown as plain text: a `*`, `_` or line of its own
    // can never pass for a line of the card.
    if let Some(a) = &card.amendment {
        blocks.push(section(typed(&format!("✏️ {a}"), 3000)));
    }
    // Label and value side by side: the label in bold, the value exactly as typed.
    for chunk in card.facts.chunks(5) {
        let fields: Vec<SlackBlockText> = chunk
            .iter()
            .flat_map(|(label, value)| {
                [
                    mrkdwn(&format!("*{}*", escape(label))).into(),
                    typed(value, 2000).into(),
                ]
            })
            .collect();
        blocks.push(SlackSectionBlock::new().with_fields(fields).into());
    }
    blocks.push(context(mrkdwn(&format!("Rule `{}`", escape(&card.rule)))));
    if !card.groups.is_empty() || !card.decisions.is_empty() {
        let lines: Vec<String> = card
            .groups
            .iter()
            .chain(&card.decisions)
            .map(|d| format!("• {d}"))
            .collect();
        blocks.push(section(typed(&lines.join("\n"), 3000)));
    }
    if !card.actions.is_empty() {
        let buttons = card.actions.iter().map(|a| button(card, a.kind).into()).collect();
        blocks.push(
            SlackActionsBlock::new(buttons)
                .with_block_id(ACTIONS_BLOCK.into())
                .into(),
        );
    }
    blocks
}

/// A card's button. What a click means travels in its `action_id` (the kind's fixed id) and
/// `value` (what it acts on); the label is only what people read.
fn button(card: &Card, kind: ButtonKind) -> SlackBlockButtonElement {
    let value = if kind.votes() {
        format!("{}@{}", card.r#ref, card.version)
    } else {
        card.r#ref.clone()
    };
    let b = SlackBlockButtonElement::new(plain(kind.label(), 75).into())
        .with_action_id(kind.id().into())
        .with_value(value);
    match kind.style() {
        ButtonStyle::Primary => b.with_style(SlackBlockButtonStyle::Primary),
        ButtonStyle::Danger => b.with_style(SlackBlockButtonStyle::Danger),
        ButtonStyle::Plain => b,
    }
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

fn modal(callback: &str, ctx: &ModalContext, title: &str, submit: &str, blocks: Vec<SlackBlock>) -> SlackView {
    SlackView::Modal(
        SlackModalView::new(plain(title, 24).into(), blocks)
            .with_callback_id(callback.into())
            .with_private_metadata(serde_json::to_string(ctx).unwrap_or_default())
            .with_submit(plain(submit, 24).into())
            .with_close(plain("Cancel", 24).into()),
    )
}

/// The modal that asks for a new request's fields, prefilled with what was typed.
pub fn new_request_modal(wf: &Workflow, given: &[(String, String)], ctx: &ModalContext) -> SlackView {
    let blocks = wf
        .fields
        .iter()
        .map(|f| {
            let initial = given
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&f.name))
                .map(|(_, v)| v.as_str());
            let label = f.label.clone().unwrap_or_else(|| f.name.clone());
            let (label, element): (String, SlackInputBlockElement) = match &f.kind {
                FieldKind::Money { currency, .. } => (
                    format!("{label} ({})", currency.code()),
                    text_input(initial, false).into(),
                ),
                FieldKind::Text { max_length } => {
                    let mut e = text_input(initial, max_length.is_some_and(|m| m > 200));
                    e.max_length = max_length.map(|m| m as u64);
                    (label, e.into())
                }
                FieldKind::Integer { .. } => (label, text_input(initial, false).into()),
                FieldKind::Date => {
                    let mut e = SlackBlockDatePickerElement::new().with_action_id(INPUT_ACTION.into());
                    e.initial_date = initial.map(str::to_owned);
                    (format!("{label} (YYYY-MM-DD)"), e.into())
                }
                FieldKind::Choice { options } => {
                    let choice = |o: &String| SlackBlockChoiceItem::new(plain(o, 75).into(), o.clone());
                    let mut e = SlackBlockStaticSelectElement::new()
                        .with_action_id(INPUT_ACTION.into())
                        .with_options(options.iter().map(choice).collect());
                    e.initial_option = initial
                        .and_then(|v| options.iter().find(|o| o.eq_ignore_ascii_case(v)))
                        .map(choice);
                    (label, e.into())
                }
            };
            SlackInputBlock::new(plain(&label, 2000).into(), element)
                .with_block_id(f.name.clone().into())
                .with_optional(!f.required)
                .into()
        })
        .collect();
    modal(NEW_CALLBACK, ctx, &format!("New {}", wf.id), "Submit", blocks)
}

fn text_input(initial: Option<&str>, multiline: bool) -> SlackBlockPlainTextInputElement {
    let mut e = SlackBlockPlainTextInputElement::new()
        .with_action_id(INPUT_ACTION.into())
        .with_multiline(multiline);
    e.initial_value = initial.map(str::to_owned);
    e
}

/// The modal that asks why a request is rejected.
pub fn reject_modal(ctx: &ModalContext) -> SlackView {
    let reason = SlackBlockPlainTextInputElement::new()
        .with_action_id(INPUT_ACTION.into())
        .with_multiline(true)
        .with_max_length(500);
    let input = SlackInputBlock::new(plain("Why? (the requester will see this)", 2000).into(), reason.into())
        .with_block_id("reason".into());
    modal(
        REJECT_CALLBACK,
        ctx,
        &format!("Reject {}", ctx.subject),
        "Reject",
        vec![input.into()],
    )
}

/// A `view_submission` answer that shows problems under their inputs.
pub fn field_errors(errors: &[(String, String)]) -> SlackViewSubmissionResponse {
    let errors: HashMap<String, String> = errors.iter().cloned().collect();
    SlackViewSubmissionResponse::Errors(SlackViewSubmissionErrorsResponse::new(errors))
}

#[cfg(test)]
#[path = "blocks_tests.rs"]
mod tests;
