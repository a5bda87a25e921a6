//! Discord's shapes for a card: the embed, its buttons (whose meaning travels in the custom_id,
//! never in the label) and the messages that carry them, built with serenity's builders.

use crate::approval::Status;
use crate::chat::render::{self, ButtonKind, Card};
use serenity::all::{ButtonStyle, Colour};
use serenity::builder::{
    CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed, CreateEmbedFooter, CreateMessage,
    EditInteractionResponse, EditMessage,
};

pub use super::commands::approval_command;
pub use super::responses::{
    choices, deferred, deferred_update, ephemeral, new_request_modal, reject_modal, Answer, MODAL_INPUTS, NEW_MODAL,
    REJECT_MODAL,
};

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

/// Cuts text to Discord's limit for where it goes (in characters, as Discord counts).
pub(super) fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Request text never pings anyone: no mention type is parsed.
pub(super) fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// The card as an embed.
pub fn card_embed(card: &Card) -> CreateEmbed {
    let color = match card.status {
        Status::Pending => 0xF1C40F,
        Status::Approved => 0x2ECC71,
        Status::Rejected => 0xE74C3C,
        Status::Cancelled | Status::Expired => 0x95A5A6,
    };
    // Discord allows 25 fields; two are kept for the approvals and decisions.
    let mut fields: Vec<(String, String, bool)> = card
        .facts
        .iter()
        .take(23)
        .map(|(k, v)| {
            let value = if v.is_empty() { "-".to_string() } else { literal(v) };
            (clip(k, 256), clip(&value, 1024), true)
        })
        .collect();
    if !card.groups.is_empty() {
        fields.push(("Approvals".into(), clip(&card.groups.join("\n"), 1024), false));
    }
    if !card.decisions.is_empty() {
        let lines: Vec<String> = card.decisions.iter().map(|d| literal(d)).collect();
        fields.push(("Decisions".into(), clip(&lines.join("\n"), 1024), false));
    }
    let mut description = format!(
        "**{}**\nRequested by {} · version {}\n{}",
        card.status_line, card.requester, card.version, card.timing
    );
    if let Some(a) = &card.amendment {
        description.push_str("\n\n");
        description.push_str(&literal(a));
    }
    CreateEmbed::new()
        .title(clip(&card.title, 256))
        .description(clip(&description, 4096))
        .colour(Colour::new(color))
        .fields(fields)
        .footer(CreateEmbedFooter::new(clip(&format!("Rule {}", card.rule), 2048)))
}

/// A card's button as Discord sends it back: what it means and the request (with the version
/// shown, for votes) it is about. Its label is for people only and is never read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardButton {
    /// What the button does.
    pub kind: ButtonKind,
    /// `REF@VERSION` for votes, `REF` otherwise.
    pub target: String,
}

impl CardButton {
    /// The custom_id Discord returns on a click.
    pub fn custom_id(&self) -> String {
        format!("{}:{}", self.kind.id(), self.target)
    }

    /// The button a custom_id stands for; `None` when it is not one of ours.
    pub fn parse(custom_id: &str) -> Option<CardButton> {
        let (action, target) = custom_id.split_once(':').unwrap_or((custom_id, ""));
        Some(CardButton {
            kind: ButtonKind::from_id(action)?,
            target: target.to_string(),
        })
    }

    /// The button, labelled as people read it.
    pub fn build(&self) -> CreateButton {
        let style = match self.kind.style() {
            render::ButtonStyle::Primary => ButtonStyle::Success,
            render::ButtonStyle::Danger => ButtonStyle::Danger,
            render::ButtonStyle::Plain => ButtonStyle::Secondary,
        };
        CreateButton::new(self.custom_id())
            .style(style)
            .label(self.kind.label())
    }
}

/// The card's buttons (none once the request is final: an empty list removes them).
pub fn card_buttons(card: &Card) -> Vec<CreateActionRow> {
    if card.actions.is_empty() {
        return Vec::new();
    }
    let at = format!("{}@{}", card.r#ref, card.version);
    let buttons = card
        .actions
        .iter()
        .map(|a| {
            let target = if a.kind.votes() { at.clone() } else { card.r#ref.clone() };
            CardButton { kind: a.kind, target }.build()
        })
        .collect();
    vec![CreateActionRow::Buttons(buttons)]
}

/// What a card message says above the embed: `content`, or the card's notification line (what
/// a phone shows).
fn card_content(card: &Card, content: Option<&str>) -> String {
    clip(
        &content.map_or_else(|| literal(&card.notification()), str::to_owned),
        2000,
    )
}

/// A new message carrying the card; mentions are never parsed from request text.
pub fn card_message(card: &Card, content: Option<&str>) -> CreateMessage {
    CreateMessage::new()
        .content(card_content(card, content))
        .embeds(vec![card_embed(card)])
        .components(card_buttons(card))
        .allowed_mentions(no_mentions())
}

/// The edit that brings a posted card up to date (its buttons go once the request is final).
pub fn card_edit(card: &Card) -> EditMessage {
    EditMessage::new()
        .content(card_content(card, None))
        .embeds(vec![card_embed(card)])
        .components(card_buttons(card))
        .allowed_mentions(no_mentions())
}

/// Plain text that mentions nobody, whatever it contains.
pub fn text_message(text: &str) -> CreateMessage {
    CreateMessage::new().content(text).allowed_mentions(no_mentions())
}

/// The text that replaces a deferred interaction answer.
pub fn late_answer(text: &str) -> EditInteractionResponse {
    EditInteractionResponse::new()
        .content(text)
        .allowed_mentions(no_mentions())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_is_shown_literally_in_discord() {
        assert_eq!(
            literal("**bold** [bank](https://evil.test) <@1>"),
            r"\*\*bold\*\* \[bank\](https://evil.test) \<@1\>"
        );
        assert_eq!(literal("ACME GmbH 12,500.00"), "ACME GmbH 12,500.00");
    }

    #[test]
    fn a_button_means_its_custom_id_whatever_its_label() {
        for kind in [ButtonKind::Approve, ButtonKind::Reject, ButtonKind::Details] {
            let button = CardButton {
                kind,
                target: "INV-7@2".into(),
            };
            for label in ["Approve", "Reject", "Details", "✅ Freigeben", ""] {
                let shown = serde_json::to_value(button.build().label(label)).expect("a button serialises");
                let id = shown["custom_id"].as_str().unwrap_or_default();
                assert_eq!(CardButton::parse(id).as_ref(), Some(&button), "{label}: {shown}");
            }
        }
        assert_eq!(CardButton::parse("Approve:INV-7@2"), None, "a label is not an id");
    }
}
