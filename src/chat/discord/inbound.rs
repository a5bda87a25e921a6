//! Discord interactions as typed payloads. Discord is lax about what it includes (guild
//! interactions carry `member.user`, DMs a top-level `user`; PINGs carry almost nothing), so
//! every field is optional and an unreadable payload becomes one of no known type.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serenity::all::{CommandOptionType, InteractionType};

/// An interaction as Discord sends it, reduced to what Countersign reads.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Interaction {
    /// PING, command, button, autocomplete or modal.
    #[serde(rename = "type")]
    #[serde(default, deserialize_with = "lenient")]
    pub kind: Option<InteractionType>,
    /// Unique per interaction: the idempotency key's heart.
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    /// Answers the interaction later (valid for 15 minutes).
    #[serde(default, deserialize_with = "lenient")]
    pub token: Option<String>,
    /// The guild, when in one.
    #[serde(default, deserialize_with = "lenient")]
    pub guild_id: Option<String>,
    /// The channel, as an id.
    #[serde(default, deserialize_with = "lenient")]
    pub channel_id: Option<String>,
    /// The channel, as an object (newer payloads).
    #[serde(default, deserialize_with = "lenient")]
    pub channel: Option<Channel>,
    /// Who acted, in a guild.
    #[serde(default, deserialize_with = "lenient")]
    pub member: Option<Member>,
    /// Who acted, in a DM or a user-installed app.
    #[serde(default, deserialize_with = "lenient")]
    pub user: Option<User>,
    /// What was invoked, pressed or submitted.
    #[serde(default, deserialize_with = "lenient")]
    pub data: Option<Data>,
}

/// A channel object; only its id matters here.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Channel {
    /// Its id.
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
}

/// A guild member.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Member {
    /// The user behind the membership.
    #[serde(default, deserialize_with = "lenient")]
    pub user: Option<User>,
}

/// A Discord user.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct User {
    /// Its id.
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
}

/// The interaction's data: a command's options, or a component's or modal's custom id and
/// inputs.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Data {
    /// The button's or modal's custom id.
    #[serde(default, deserialize_with = "lenient")]
    pub custom_id: Option<String>,
    /// A command's options (subcommands nest theirs).
    #[serde(default, deserialize_with = "lenient_list")]
    pub options: Option<Vec<CommandOption>>,
    /// A modal's rows of inputs.
    #[serde(default, deserialize_with = "lenient_list")]
    pub components: Option<Vec<Component>>,
}

/// A slash-command option as sent.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CommandOption {
    /// Its name.
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
    /// Subcommand, string, integer...
    #[serde(rename = "type")]
    #[serde(default, deserialize_with = "lenient")]
    pub kind: Option<CommandOptionType>,
    /// Its value: text, number or boolean depending on the option's type.
    #[serde(default)]
    pub value: Option<Value>,
    /// Set on the option being typed during autocomplete.
    #[serde(default, deserialize_with = "lenient")]
    pub focused: Option<bool>,
    /// A subcommand's own options.
    #[serde(default, deserialize_with = "lenient_list")]
    pub options: Option<Vec<CommandOption>>,
}

/// A modal component: an action row holding inputs, or an input.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Component {
    /// An input's custom id.
    #[serde(default, deserialize_with = "lenient")]
    pub custom_id: Option<String>,
    /// An input's value.
    #[serde(default, deserialize_with = "lenient")]
    pub value: Option<String>,
    /// A row's inputs.
    #[serde(default, deserialize_with = "lenient_list")]
    pub components: Option<Vec<Component>>,
}

/// A field of an unexpected shape reads as absent, as a missing one does: Discord adds and
/// loosens fields, and one odd field must not make the whole interaction unreadable. No field
/// read this way is a list, and serde would read a list as a struct's fields in order.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(_) => Ok(None),
        raw => Ok(serde_json::from_value(raw).ok()),
    }
}

/// A list of objects; entries of any other shape are left out.
fn lenient_list<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<Vec<T>>, D::Error> {
    let Value::Array(items) = Value::deserialize(d)? else {
        return Ok(None);
    };
    let objects = items.into_iter().filter(Value::is_object);
    Ok(Some(objects.filter_map(|v| serde_json::from_value(v).ok()).collect()))
}

fn given(s: &Option<String>) -> Option<String> {
    s.as_deref().filter(|x| !x.is_empty()).map(str::to_owned)
}

impl Interaction {
    /// Reads a JSON interaction. A payload that is not an object is kept as one of no known
    /// type, which is answered with the same refusal as any other interaction we do not handle.
    pub fn read(payload: Value) -> Interaction {
        if !payload.is_object() {
            return Interaction::default();
        }
        serde_json::from_value(payload).unwrap_or_else(|e| {
            tracing::info!(error = %e, "a Discord interaction of an unreadable shape");
            Interaction::default()
        })
    }

    /// Who acted: the Discord user id.
    pub fn user_id(&self) -> Option<String> {
        let member = self
            .member
            .as_ref()
            .and_then(|m| m.user.as_ref())
            .and_then(|u| given(&u.id));
        member.or_else(|| self.user.as_ref().and_then(|u| given(&u.id)))
    }

    /// The guild, when in one.
    pub fn guild_id(&self) -> Option<String> {
        given(&self.guild_id)
    }

    /// The channel it happened in.
    pub fn channel_id(&self) -> Option<String> {
        given(&self.channel_id).or_else(|| self.channel.as_ref().and_then(|c| given(&c.id)))
    }

    /// The interaction's id.
    pub fn id(&self) -> Option<String> {
        given(&self.id)
    }

    /// The interaction's token.
    pub fn token(&self) -> Option<String> {
        given(&self.token)
    }

    /// A component's or modal's `custom_id`.
    pub fn custom_id(&self) -> Option<String> {
        self.data.as_ref().and_then(|d| given(&d.custom_id))
    }

    fn options(&self) -> &[CommandOption] {
        self.data
            .as_ref()
            .and_then(|d| d.options.as_deref())
            .unwrap_or_default()
    }

    /// For `/approval <sub> ...`: the subcommand and its options as `name -> text`.
    pub fn subcommand(&self) -> Option<(String, Vec<(String, String)>)> {
        let sub = self
            .options()
            .iter()
            .find(|o| o.kind == Some(CommandOptionType::SubCommand))?;
        let args = sub
            .options
            .iter()
            .flatten()
            .filter_map(|o| {
                let value = match o.value.as_ref()? {
                    Value::String(t) => t.clone(),
                    other => other.to_string(),
                };
                Some((o.name.clone()?, value))
            })
            .collect();
        Some((sub.name.clone()?, args))
    }

    /// The focused option's current text, for autocomplete.
    pub fn focused(&self) -> Option<String> {
        fn find(options: &[CommandOption]) -> Option<String> {
            for o in options {
                if o.focused == Some(true) {
                    return o.value.as_ref().and_then(Value::as_str).map(str::to_owned);
                }
                if let Some(found) = o.options.as_deref().and_then(find) {
                    return Some(found);
                }
            }
            None
        }
        find(self.options())
    }

    /// A modal's submitted values: `custom_id -> value`, empty ones left out.
    pub fn modal_values(&self) -> Vec<(String, String)> {
        let rows = self
            .data
            .as_ref()
            .and_then(|d| d.components.as_deref())
            .unwrap_or_default();
        rows.iter()
            .flat_map(|row| row.components.as_deref().unwrap_or(std::slice::from_ref(row)))
            .filter_map(|c| Some((c.custom_id.clone()?, c.value.clone()?)))
            .filter(|(_, value)| !value.trim().is_empty())
            .collect()
    }
}

/// The gateway's payload tag for a PING (serenity keeps the type in its enum variant).
pub const PING: u64 = 1;
/// The gateway's payload tag for a slash command.
pub const APPLICATION_COMMAND: u64 = 2;
/// The gateway's payload tag for a button press.
pub const MESSAGE_COMPONENT: u64 = 3;
/// The gateway's payload tag for autocomplete.
pub const AUTOCOMPLETE: u64 = 4;
/// The gateway's payload tag for a modal submission.
pub const MODAL_SUBMIT: u64 = 5;

/// The type of a JSON interaction (0 when it has none we know of).
pub fn kind(i: &Value) -> u64 {
    Interaction::read(i.clone()).kind.map_or(0, |k| u64::from(u8::from(k)))
}

/// Who acted in a JSON interaction.
pub fn user_id(i: &Value) -> Option<String> {
    Interaction::read(i.clone()).user_id()
}

/// The channel of a JSON interaction.
pub fn channel_id(i: &Value) -> Option<String> {
    Interaction::read(i.clone()).channel_id()
}

/// The id and token of a JSON interaction.
pub fn id_and_token(i: &Value) -> (Option<String>, Option<String>) {
    let i = Interaction::read(i.clone());
    (i.id(), i.token())
}

/// The custom id of a JSON interaction.
pub fn custom_id(i: &Value) -> Option<String> {
    Interaction::read(i.clone()).custom_id()
}

/// The modal values of a JSON interaction.
pub fn modal_values(i: &Value) -> Vec<(String, String)> {
    Interaction::read(i.clone()).modal_values()
}

/// The subcommand of a JSON interaction.
pub fn subcommand(i: &Value) -> Option<(String, Vec<(String, String)>)> {
    Interaction::read(i.clone()).subcommand()
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
