//! Reading what Slack sends, tolerantly: slash commands (form), interactivity (`payload=` JSON)
//! and Events API bodies. Real payloads vary (Enterprise Grid, org-wide installs with a null
//! team, DMs without a response_url), so every field is optional and read where it is.

use serde::Deserialize;
use serde_json::Value;

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

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// The actor of an interaction payload. On org-wide installs `team` is null and the user's own
/// `team_id` is the workspace their identity belongs to.
pub fn who(payload: &Value) -> Who {
    Who {
        workspace: str_at(payload, &["user", "team_id"])
            .or_else(|| str_at(payload, &["team", "id"]))
            .or_else(|| str_at(payload, &["view", "team_id"]))
            .map(str::to_owned),
        user: str_at(payload, &["user", "id"]).map(str::to_owned),
        channel: str_at(payload, &["channel", "id"])
            .or_else(|| str_at(payload, &["container", "channel_id"]))
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
pub fn presses(payload: &Value) -> Vec<ButtonPress> {
    payload
        .get("actions")
        .and_then(Value::as_array)
        .map(|actions| {
            actions
                .iter()
                .map(|a| ButtonPress {
                    action_id: str_at(a, &["action_id"]).unwrap_or_default().to_string(),
                    value: str_at(a, &["value"]).map(str::to_owned),
                    action_ts: str_at(a, &["action_ts"]).map(str::to_owned),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The submitted values of a modal: `block_id -> value` for plain inputs, selects and date
/// pickers alike.
pub fn submitted_values(payload: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(blocks) = payload.pointer("/view/state/values").and_then(Value::as_object) else {
        return out;
    };
    for (block_id, actions) in blocks {
        let Some(actions) = actions.as_object() else { continue };
        for element in actions.values() {
            let value = element
                .get("value")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| str_at(element, &["selected_option", "value"]).map(str::to_owned))
                .or_else(|| str_at(element, &["selected_date"]).map(str::to_owned));
            if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                out.push((block_id.clone(), v));
            }
        }
    }
    out.sort();
    out
}

/// Reads the `payload` field of an interactivity form body.
pub fn interaction_payload(body: &[u8]) -> Result<Value, String> {
    let form: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| format!("not a form body: {e}"))?;
    let payload = form
        .into_iter()
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v)
        .ok_or_else(|| "the form has no payload field".to_string())?;
    serde_json::from_str(&payload).map_err(|e| format!("the payload is not JSON: {e}"))
}
