//! Addresses on chat platforms: which platform, a channel on it, a person on it. The bottom of
//! `chat/`: plain data that the policy (people.toml, `[announce]`, digests), the outbox and the
//! adapters share. Everything a platform's addresses look like in commands/ is said here, once
//! per platform, so people.toml and the workflow files are read the same way for every one.

use serde::{Deserialize, Serialize};
use std::fmt;

const SLACK_USAGE: &str = "slack identity must be WORKSPACE/USER, e.g. T0001/U0ALICE";

/// A chat platform. Adding one is a variant here (with its spelling below) and its adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Slack.
    Slack,
    /// Discord.
    Discord,
}

impl Platform {
    /// Every platform, in the order people.toml and replies list them.
    pub const ALL: [Platform; 2] = [Platform::Slack, Platform::Discord];

    /// The lower-case name: the key of a person's identities in people.toml (`slack = [...]`),
    /// the prefix of a channel key (`slack_channel`), and how the platform is stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Discord => "discord",
        }
    }

    /// The platform named `s` (as [`Platform::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The key that names a channel on this platform in commands/, e.g. `slack_channel`.
    pub fn channel_key(self) -> String {
        format!("{}_channel", self.as_str())
    }

    /// Whether the platform's ids are only unique inside a workspace (a Slack team), so an
    /// identity or a channel in commands/ is written `WORKSPACE/ID`.
    fn has_workspaces(self) -> bool {
        match self {
            Platform::Slack => true,
            Platform::Discord => false,
        }
    }

    /// Reads a person's identity as people.toml writes it (`T0001/U0ALICE` on Slack, the
    /// numeric user id on Discord); the error is the whole message for the person fixing it.
    pub fn parse_handle(self, s: &str) -> Result<Handle, String> {
        let alnum = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric());
        match self.split(s, alnum) {
            Some((workspace, id)) => Ok(Handle { workspace, id }),
            None => Err(match self {
                Platform::Slack if !s.contains('/') => SLACK_USAGE.to_owned(),
                Platform::Slack => format!("`{s}`: {SLACK_USAGE}"),
                Platform::Discord => {
                    format!("discord id `{s}` must be the numeric user id, e.g. 111111111111111111")
                }
            }),
        }
    }

    /// Reads a channel as commands/ writes it (`T0001/C0FINANCE` on Slack, the numeric channel
    /// id on Discord).
    pub fn parse_channel(self, s: &str) -> Result<ChatPlace, String> {
        let plain = |p: &str| !p.is_empty() && !p.contains('/');
        match self.split(s, plain) {
            Some((workspace, channel)) => Ok(ChatPlace {
                platform: self,
                workspace,
                channel,
            }),
            None => Err(match self {
                Platform::Slack => format!("slack_channel `{s}` must be WORKSPACE/CHANNEL, e.g. \"T0001/C0FINANCE\""),
                Platform::Discord => format!("discord_channel `{s}` must be a numeric channel id"),
            }),
        }
    }

    /// What one of a person's identities is called in messages about people.toml.
    pub fn identity_noun(self) -> &'static str {
        match self {
            Platform::Slack => "slack identity",
            Platform::Discord => "discord id",
        }
    }

    /// An example of a channel, for messages that ask for one.
    pub fn channel_example(self) -> &'static str {
        match self {
            Platform::Slack => "\"T0001/C0FINANCE\"",
            Platform::Discord => "\"123...\"",
        }
    }

    /// `WORKSPACE/ID` on a platform with workspaces (each part `ok`), a bare id of digits
    /// otherwise; `None` when malformed.
    fn split(self, s: &str, ok: impl Fn(&str) -> bool) -> Option<(Option<String>, String)> {
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        match self.has_workspaces() {
            true => {
                let (workspace, id) = s.split_once('/')?;
                (ok(workspace) && ok(id)).then(|| (Some(workspace.to_owned()), id.to_owned()))
            }
            false => digits(s).then(|| (None, s.to_owned())),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of a person's identities on a platform, as people.toml lists it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Handle {
    /// The workspace the id belongs to, on platforms that have them.
    pub workspace: Option<String>,
    /// The platform's user id.
    pub id: String,
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.workspace {
            Some(w) => write!(f, "{w}/{}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// A channel on a platform (a Slack workspace's channel, a Discord channel).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatPlace {
    /// Which platform.
    pub platform: Platform,
    /// The Slack workspace (team id) or Discord guild, when known.
    pub workspace: Option<String>,
    /// Channel id.
    pub channel: String,
}

impl fmt::Display for ChatPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.workspace {
            Some(w) => write!(f, "{}:{w}/{}", self.platform, self.channel),
            None => write!(f, "{}:{}", self.platform, self.channel),
        }
    }
}

/// A person on a platform: where to send a direct message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatUser {
    /// Which platform.
    pub platform: Platform,
    /// The Slack workspace, when known.
    pub workspace: Option<String>,
    /// The platform's user id.
    pub user: String,
}

impl ChatUser {
    /// The person with `handle` on `platform`.
    pub fn at(platform: Platform, handle: &Handle) -> Self {
        ChatUser {
            platform,
            workspace: handle.workspace.clone(),
            user: handle.id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_reads_back_its_own_name() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
        assert_eq!(Platform::parse("teams"), None);
    }

    #[test]
    fn slack_ids_need_their_workspace_and_discord_ids_are_digits() {
        let alice = Platform::Slack.parse_handle("T0001/U0ALICE").unwrap();
        assert_eq!(alice.to_string(), "T0001/U0ALICE");
        assert!(Platform::Slack.parse_handle("U0ALICE").is_err());
        assert!(Platform::Slack.parse_handle("T0001/U0/X").is_err());
        assert_eq!(Platform::Discord.parse_handle("42").unwrap().to_string(), "42");
        assert!(Platform::Discord.parse_handle("4x2").is_err());
        let place = Platform::Slack.parse_channel("T1/C0OPS").unwrap();
        assert_eq!(place.to_string(), "slack:T1/C0OPS");
    }
}
