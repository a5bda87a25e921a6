//! Reading Discord interactions, tolerantly: guild interactions carry `member.user`, DMs a
//! top-level `user`; options, components and modal values are read where they are.

use serde_json::Value;

/// Interaction types.
pub const PING: u64 = 1;
/// A slash command.
pub const APPLICATION_COMMAND: u64 = 2;
/// A button press.
pub const MESSAGE_COMPONENT: u64 = 3;
/// Typing in an autocompleted option.
pub const AUTOCOMPLETE: u64 = 4;
/// A modal was submitted.
pub const MODAL_SUBMIT: u64 = 5;

/// The interaction's type.
pub fn kind(i: &Value) -> u64 {
    i.get("type").and_then(Value::as_u64).unwrap_or(0)
}

fn s<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str).filter(|x| !x.is_empty())
}

/// Who acted: the Discord user id.
pub fn user_id(i: &Value) -> Option<String> {
    s(i, "/member/user/id").or_else(|| s(i, "/user/id")).map(str::to_owned)
}

/// The guild, when in one.
pub fn guild_id(i: &Value) -> Option<String> {
    s(i, "/guild_id").map(str::to_owned)
}

/// The channel it happened in.
pub fn channel_id(i: &Value) -> Option<String> {
    s(i, "/channel_id").or_else(|| s(i, "/channel/id")).map(str::to_owned)
}

/// The interaction's id (unique per interaction: the idempotency key's heart) and token.
pub fn id_and_token(i: &Value) -> (Option<String>, Option<String>) {
    (s(i, "/id").map(str::to_owned), s(i, "/token").map(str::to_owned))
}

/// For `/approval <sub> ...`: the subcommand and its options as `name -> text`.
pub fn subcommand(i: &Value) -> Option<(String, Vec<(String, String)>)> {
    let options = i.pointer("/data/options")?.as_array()?;
    let sub = options
        .iter()
        .find(|o| o.get("type").and_then(Value::as_u64) == Some(1))?;
    let name = sub.get("name")?.as_str()?.to_string();
    let args = sub
        .get("options")
        .and_then(Value::as_array)
        .map(|opts| {
            opts.iter()
                .filter_map(|o| {
                    let value = match o.get("value")? {
                        Value::String(t) => t.clone(),
                        other => other.to_string(),
                    };
                    Some((o.get("name")?.as_str()?.to_string(), value))
                })
                .collect()
        })
        .unwrap_or_default();
    Some((name, args))
}

/// The focused option's current text, for autocomplete.
pub fn focused(i: &Value) -> Option<String> {
    fn find(v: &Value) -> Option<String> {
        for o in v.as_array()? {
            if o.get("focused").and_then(Value::as_bool) == Some(true) {
                return o.get("value").and_then(Value::as_str).map(str::to_owned);
            }
            if let Some(found) = o.get("options").and_then(find) {
                return Some(found);
            }
        }
        None
    }
    i.pointer("/data/options").and_then(find)
}

/// A component's or modal's `custom_id`.
pub fn custom_id(i: &Value) -> Option<String> {
    s(i, "/data/custom_id").map(str::to_owned)
}

/// A modal's submitted values: `custom_id -> value`, empty ones left out.
pub fn modal_values(i: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for row in i
        .pointer("/data/components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let inner = row
            .get("components")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_else(|| vec![row.clone()]);
        for c in inner {
            if let (Some(id), Some(value)) = (
                c.get("custom_id").and_then(Value::as_str),
                c.get("value").and_then(Value::as_str),
            ) {
                if !value.trim().is_empty() {
                    out.push((id.to_string(), value.to_string()));
                }
            }
        }
    }
    out
}
