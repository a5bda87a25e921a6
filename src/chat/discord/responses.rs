//! Discord's answers to interactions, built with serenity's builders: ephemeral messages,
//! deferrals, modals and autocomplete choices, plus the PING's pong.

use super::components::{card_buttons, card_embed, clip, no_mentions};
use crate::chat::render::Card;
use crate::policy::{FieldKind, Workflow};
use serde::{Serialize, Serializer};
use serenity::all::InputTextStyle;
use serenity::builder::{
    AutocompleteChoice, CreateActionRow, CreateAutocompleteResponse, CreateInputText, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateModal,
};

/// Custom id prefix of the new-request modal.
pub const NEW_MODAL: &str = "countersign_new:";
/// Custom id prefix of the reject-reason modal.
pub const REJECT_MODAL: &str = "countersign_reject:";
/// Discord allows at most five inputs in a modal.
pub const MODAL_INPUTS: usize = 5;

/// The PING's answer. serenity's `Pong` also sends `"data": null`, and Discord's endpoint check
/// expects exactly `{"type":1}`.
#[derive(Clone, Copy, Debug, Serialize)]
struct Pong {
    #[serde(rename = "type")]
    kind: u8,
}

impl Pong {
    /// Interaction response type PONG.
    const TYPE: u8 = 1;
}

/// An answer to an interaction, and the text it shows (repeated through the outbox when the work
/// finishes after Discord stopped waiting).
#[derive(Clone, Debug)]
pub struct Answer {
    response: Option<CreateInteractionResponse>,
    /// An answer already encoded (a form opened through the platform seam).
    encoded: Option<serde_json::Value>,
    text: Option<String>,
}

impl Answer {
    /// The answer to a PING.
    pub fn pong() -> Answer {
        Answer {
            response: None,
            encoded: None,
            text: None,
        }
    }

    fn of(response: CreateInteractionResponse) -> Answer {
        Answer {
            response: Some(response),
            encoded: None,
            text: None,
        }
    }

    /// An answer the platform seam already encoded (a form).
    pub fn encoded(answer: serde_json::Value) -> Answer {
        Answer {
            response: None,
            encoded: Some(answer),
            text: None,
        }
    }

    /// The text the caller reads, when the answer is a message.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (&self.response, &self.encoded) {
            (Some(r), _) => r.serialize(s),
            (None, Some(encoded)) => encoded.serialize(s),
            (None, None) => Pong { kind: Pong::TYPE }.serialize(s),
        }
    }
}

/// An immediate ephemeral answer, with cards (the first one's buttons) when there are any.
pub fn ephemeral(text: &str, cards: &[Card]) -> Answer {
    let content = clip(text, 2000);
    let message = CreateInteractionResponseMessage::new()
        .content(content.clone())
        .embeds(cards.iter().take(10).map(card_embed).collect())
        .components(cards.first().map(card_buttons).unwrap_or_default())
        .ephemeral(true)
        .allowed_mentions(no_mentions());
    Answer {
        response: Some(CreateInteractionResponse::Message(message)),
        encoded: None,
        text: Some(content),
    }
}

/// "Working on it": a deferred ephemeral answer, edited when the work is done.
pub fn deferred() -> Answer {
    Answer::of(CreateInteractionResponse::Defer(
        CreateInteractionResponseMessage::new().ephemeral(true),
    ))
}

/// Acknowledges a button press without changing its message: the card is updated through the
/// outbox like every other copy.
pub fn deferred_update() -> Answer {
    Answer::of(CreateInteractionResponse::Acknowledge)
}

/// Autocomplete choices (Discord shows at most 25).
pub fn choices<'a>(values: impl Iterator<Item = &'a str>) -> Answer {
    let choices = values.take(25).map(|v| AutocompleteChoice::new(v, v)).collect();
    Answer::of(CreateInteractionResponse::Autocomplete(
        CreateAutocompleteResponse::new().set_choices(choices),
    ))
}

fn modal(custom_id: String, title: &str, inputs: Vec<CreateInputText>) -> Answer {
    let rows = inputs.into_iter().map(CreateActionRow::InputText).collect();
    Answer::of(CreateInteractionResponse::Modal(
        CreateModal::new(custom_id, clip(title, 45)).components(rows),
    ))
}

fn input(
    id: &str,
    label: &str,
    required: bool,
    paragraph: bool,
    value: Option<&str>,
    max: Option<usize>,
) -> CreateInputText {
    let style = if paragraph {
        InputTextStyle::Paragraph
    } else {
        InputTextStyle::Short
    };
    let mut i = CreateInputText::new(style, clip(label, 45), id).required(required);
    if let Some(v) = value {
        i = i.value(clip(v, 4000));
    }
    if let Some(m) = max {
        // Discord caps a text input at 4000 characters.
        i = i.max_length(u16::try_from(m.min(4000)).unwrap_or(4000));
    }
    i
}

/// The new-request modal: the workflow's fields (at most five), prefilled with what was typed.
pub fn new_request_modal(wf: &Workflow, given: &[(String, String)]) -> Answer {
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
pub fn reject_modal(target: &str) -> Answer {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_keep_their_wire_shape() {
        assert_eq!(serde_json::to_value(Answer::pong()).ok(), Some(json!({ "type": 1 })));
        let quiet = serde_json::to_value(ephemeral("hi <@1>", &[])).unwrap_or_default();
        assert_eq!(quiet["type"], 4);
        assert_eq!(quiet["data"]["flags"], 64);
        assert_eq!(quiet["data"]["content"], "hi <@1>");
        assert_eq!(quiet["data"]["allowed_mentions"]["parse"], json!([]));
        let later = serde_json::to_value(deferred()).unwrap_or_default();
        assert_eq!(
            (later["type"].clone(), later["data"]["flags"].clone()),
            (json!(5), json!(64))
        );
        assert_eq!(serde_json::to_value(deferred_update()).unwrap_or_default()["type"], 6);
        let form = serde_json::to_value(reject_modal("INV-1@2")).unwrap_or_default();
        assert_eq!(form["type"], 9);
        assert_eq!(form["data"]["custom_id"], "countersign_reject:INV-1@2");
        let reason = &form["data"]["components"][0]["components"][0];
        assert_eq!((reason["type"].clone(), reason["style"].clone()), (json!(4), json!(2)));
        assert_eq!(reason["max_length"], 500);
        let picks = serde_json::to_value(choices(["invoice"].into_iter())).unwrap_or_default();
        assert_eq!(
            picks,
            json!({ "type": 8, "data": { "choices": [{ "name": "invoice", "value": "invoice" }] } })
        );
    }
}
