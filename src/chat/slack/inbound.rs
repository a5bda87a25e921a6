//! Reading what Slack sends, tolerantly: slash commands (form), interactivity (`payload=` JSON)
//! and Events API bodies. Real payloads vary (Enterprise Grid, org-wide installs with a null
//! team, DMs without a response_url), so every field is optional, and a field of an unexpected
//! shape reads as absent instead of refusing the whole payload.

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A slash command's form body.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlashCommand {
    /// Workspace id.
    pub team_id: Option<String>,
    /// Enterprise Grid org id.
    pub enterprise_id: Option<String>,
    /// Where it was typed.
    pub channel_id: Option<String>,
    /// Who typed it.
    pub user_id: Option<String>,
    /// The command, e.g. `/approval`.
    pub command: Option<String>,
    /// Everything after the command.
    #[serde(default)]
    pub text: String,
    /// Lets us open a modal within 3 seconds.
    pub trigger_id: Option<String>,
    /// Where delayed replies may go.
    pub response_url: Option<String>,
    /// Slack's certificate check (`ssl_check=1`): acknowledge, do nothing.
    pub ssl_check: Option<String>,
}

/// A value Slack may send in another shape (or null): anything that does not read as `T` is
/// absent, so one odd field never costs the whole payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lenient<T>(pub Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(Lenient(T::deserialize(v).ok()))
    }
}

/// Like [`Lenient`], for what Slack sends as a JSON object: anything else is absent (serde
/// would otherwise read a struct from an array by position).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(Obj(v.is_object().then(|| T::deserialize(v).ok()).flatten()))
    }
}

impl Lenient<String> {
    /// The string, even when empty.
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The string unless empty (Slack sends `""` for "none" in places).
    pub fn non_empty(&self) -> Option<&str> {
        self.get().filter(|s| !s.is_empty())
    }
}

/// An interactivity payload: what Countersign reads of `block_actions` and `view_submission`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Interaction {
    /// `block_actions`, `view_submission`, ...
    #[serde(rename = "type")]
    pub kind: Lenient<String>,
    /// Who acted.
    pub user: Obj<UserRef>,
    /// The workspace; null on org-wide installs.
    pub team: Obj<IdRef>,
    /// The channel, when the interaction happened in one.
    pub channel: Obj<IdRef>,
    /// Where the clicked message is (its channel, when `channel` is absent).
    pub container: Obj<Container>,
    /// Lets us open a modal within 3 seconds.
    pub trigger_id: Lenient<String>,
    /// The presses of a `block_actions` payload.
    pub actions: Lenient<Vec<Obj<ActionPayload>>>,
    /// The submitted modal.
    pub view: Obj<View>,
}

/// `user` of an interaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct UserRef {
    /// User id.
    pub id: Lenient<String>,
    /// The user's own workspace (differs from `team` on Enterprise Grid).
    pub team_id: Lenient<String>,
}

/// An object of which only the id is read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct IdRef {
    /// Its id.
    pub id: Lenient<String>,
}

/// `container` of an interaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Container {
    /// The message's channel.
    pub channel_id: Lenient<String>,
}

/// One element of `actions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ActionPayload {
    /// What the button means (its label is never read).
    pub action_id: Lenient<String>,
    /// What it acts on.
    pub value: Lenient<String>,
    /// Unique per press.
    pub action_ts: Lenient<String>,
}

/// A select's chosen option.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SelectedOption {
    /// The option's value (its text is only what people read).
    pub value: Lenient<String>,
}

/// `view` of a `view_submission`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct View {
    /// The view's id (stable across resubmissions of one modal).
    pub id: Lenient<String>,
    /// The view's workspace.
    pub team_id: Lenient<String>,
    /// Which of our modals it is.
    pub callback_id: Lenient<String>,
    /// Our [`super::blocks::ModalContext`], as JSON.
    pub private_metadata: Lenient<String>,
    /// What was entered.
    pub state: Obj<ViewState>,
}

/// `view.state`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ViewState {
    /// `block_id -> action_id -> value`.
    pub values: Obj<BTreeMap<String, Obj<BlockValues>>>,
}

/// One input block's values, by `action_id`.
pub type BlockValues = BTreeMap<String, Obj<StateValue>>;

/// One input's value: a text, a select's option or a date, by element type.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct StateValue {
    /// A text input's value.
    pub value: Lenient<String>,
    /// A select's choice.
    pub selected_option: Obj<SelectedOption>,
    /// A date picker's date.
    pub selected_date: Lenient<String>,
}

impl Interaction {
    /// Reads a payload already parsed as JSON; anything but an object reads as empty (and is
    /// then acknowledged and ignored as not ours).
    pub fn from_json(v: &Value) -> Interaction {
        if v.is_object() {
            Interaction::deserialize(v).unwrap_or_default()
        } else {
            Interaction::default()
        }
    }

    /// The payload's `type`, or `""`.
    pub fn kind(&self) -> &str {
        self.kind.get().unwrap_or_default()
    }

    /// The submitted view's `callback_id`, or `""`.
    pub fn callback(&self) -> &str {
        self.view
            .0
            .as_ref()
            .and_then(|v| v.callback_id.get())
            .unwrap_or_default()
    }

    /// The submitted view, when there is one.
    pub fn view(&self) -> Option<&View> {
        self.view.0.as_ref()
    }
}

/// Who acted in an interaction, and where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Who {
    /// Workspace id (the user's own team on Enterprise Grid).
    pub workspace: Option<String>,
    /// User id.
    pub user: Option<String>,
    /// Channel, when the interaction happened in one.
    pub channel: Option<String>,
}

/// The actor of an interaction payload. On org-wide installs `team` is null and the user's own
/// `team_id` is the workspace their identity belongs to.
pub fn who(p: &Interaction) -> Who {
    let user = p.user.0.as_ref();
    Who {
        workspace: user
            .and_then(|u| u.team_id.non_empty())
            .or_else(|| p.team.0.as_ref().and_then(|t| t.id.non_empty()))
            .or_else(|| p.view().and_then(|v| v.team_id.non_empty()))
            .map(str::to_owned),
        user: user.and_then(|u| u.id.non_empty()).map(str::to_owned),
        channel: p
            .channel
            .0
            .as_ref()
            .and_then(|c| c.id.non_empty())
            .or_else(|| p.container.0.as_ref().and_then(|c| c.channel_id.non_empty()))
            .map(str::to_owned),
    }
}

/// One button press of a `block_actions` payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ButtonPress {
    /// `approve`, `reject`, `details`, or anything else (ignored).
    pub action_id: String,
    /// The button's value: `INV-1@2` on our cards.
    pub value: Option<String>,
    /// Unique per press: the idempotency key's heart.
    pub action_ts: Option<String>,
}

/// The presses in a `block_actions` payload.
pub fn presses(p: &Interaction) -> Vec<ButtonPress> {
    let actions = p.actions.0.as_deref().unwrap_or_default();
    actions
        .iter()
        .map(|a| {
            let a = a.0.clone().unwrap_or_default();
            ButtonPress {
                action_id: a.action_id.non_empty().unwrap_or_default().to_string(),
                value: a.value.non_empty().map(str::to_owned),
                action_ts: a.action_ts.non_empty().map(str::to_owned),
            }
        })
        .collect()
}

/// The submitted values of a modal: `block_id -> value` for plain inputs, selects and date
/// pickers alike.
pub fn submitted_values(p: &Interaction) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let state = p.view().and_then(|v| v.state.0.as_ref());
    let Some(blocks) = state.and_then(|s| s.values.0.as_ref()) else {
        return out;
    };
    for (block_id, actions) in blocks {
        let Some(actions) = &actions.0 else { continue };
        for element in actions.values() {
            let Some(element) = &element.0 else { continue };
            let value = element
                .value
                .get()
                .or_else(|| element.selected_option.0.as_ref().and_then(|o| o.value.non_empty()))
                .or_else(|| element.selected_date.non_empty());
            if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                out.push((block_id.clone(), v.to_string()));
            }
        }
    }
    out.sort();
    out
}

/// An Events API body: only what is answered (the URL check) or logged is read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct EventEnvelope {
    /// `url_verification`, `event_callback`, ...
    #[serde(rename = "type")]
    pub kind: Lenient<String>,
    /// The URL check's challenge, echoed back whatever its JSON type.
    pub challenge: Option<Value>,
    /// The event inside an `event_callback`.
    pub event: Obj<InnerEvent>,
}

/// `event` of an `event_callback`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct InnerEvent {
    /// `app_mention`, `message`, ...
    #[serde(rename = "type")]
    pub kind: Lenient<String>,
}

impl EventEnvelope {
    /// Reads a body already parsed as JSON; anything but an object reads as empty (and is then
    /// acknowledged and ignored).
    pub fn from_json(v: &Value) -> EventEnvelope {
        if v.is_object() {
            EventEnvelope::deserialize(v).unwrap_or_default()
        } else {
            EventEnvelope::default()
        }
    }
}

/// Reads the `payload` field of an interactivity form body.
pub fn interaction_payload(body: &[u8]) -> Result<Interaction, String> {
    let form: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| format!("not a form body: {e}"))?;
    let payload = form
        .into_iter()
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v)
        .ok_or_else(|| "the form has no payload field".to_string())?;
    let json: Value = serde_json::from_str(&payload).map_err(|e| format!("the payload is not JSON: {e}"))?;
    Ok(Interaction::from_json(&json))
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
