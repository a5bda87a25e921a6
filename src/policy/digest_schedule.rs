//! A team's digest schedule in people.toml: when (a 6-field cron in an IANA timezone) and where
//! (direct messages to members, a Slack channel, a Discord channel).

use crate::chat::address::ChatPlace;
use crate::policy::check::FileCx;
use crate::policy::raw::{Key, Node};
use crate::policy::workflow_links::{channel_keys, names_channel, read_channels};
use std::str::FromStr;

/// When and where a team's health digest goes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DigestSchedule {
    /// Six fields, seconds first: `0 0 9 * * Mon-Fri`.
    pub cron: String,
    /// IANA timezone the cron is read in: `Europe/Berlin`.
    pub timezone: String,
    /// Send it privately to every member of the team.
    pub dm_members: bool,
    /// The team's channels (`slack_channel`, `discord_channel`), one per platform at most.
    pub channels: Vec<ChatPlace>,
}

impl DigestSchedule {
    /// The parsed schedule (always valid: `check` refused anything else).
    pub fn schedule(&self) -> cron::Schedule {
        cron::Schedule::from_str(&self.cron).expect("validated when people.toml was loaded")
    }

    /// The parsed timezone.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().expect("validated when people.toml was loaded")
    }
}

const CRON_HELP: &str = "a digest cron has 6 fields, seconds first: `sec min hour day-of-month month day-of-week`, \
     e.g. \"0 0 9 * * Mon-Fri\" for 09:00 on weekdays (5-field crontab lines are not accepted; prefer day names, \
     since numbers run 1 = Sunday .. 7 = Saturday)";

/// Reads `[team.<id>.digest]`; problems go to `cx`.
pub(crate) fn read_digest(cx: &mut FileCx<'_>, team: &str, key: &Key, node: &Node) -> Option<DigestSchedule> {
    let t = cx.table(key, node, format!("[team.{team}.digest]"))?;
    let channel_keys = channel_keys();
    let keys: Vec<&str> = ["cron", "timezone", "dm_members"]
        .into_iter()
        .chain(channel_keys.iter().map(String::as_str))
        .collect();
    cx.check_keys(&t, &keys);
    let cron = match cx.required_string(&t, "cron", " (e.g. cron = \"0 0 9 * * Mon-Fri\")") {
        Some((c, span)) => {
            let fields = c.split_whitespace().count();
            if fields != 6 && fields != 7 {
                cx.at(&span, format!("`{c}` has {fields} fields; {CRON_HELP}"));
                None
            } else if let Err(e) = cron::Schedule::from_str(&c) {
                cx.at(&span, format!("`{c}` is not a valid schedule ({e}); {CRON_HELP}"));
                None
            } else {
                Some(c)
            }
        }
        None => None,
    };
    let timezone = match cx.required_string(&t, "timezone", " (an IANA name, e.g. timezone = \"Europe/Berlin\")") {
        Some((tz, span)) => match tz.parse::<chrono_tz::Tz>() {
            Ok(_) => Some(tz),
            Err(_) => {
                cx.at(
                    &span,
                    format!("`{tz}` is not an IANA timezone (e.g. \"Europe/Berlin\", \"America/New_York\", \"UTC\")"),
                );
                None
            }
        },
        None => None,
    };
    let dm_members = cx.boolean(&t, "dm_members").unwrap_or(false);
    let channels = read_channels(cx, &t);
    if !dm_members && !names_channel(&t) && t.get("dm_members").is_none() {
        cx.at(
            &t.span,
            format!("the digest of team `{team}` goes nowhere: set dm_members = true or a channel"),
        );
    }
    Some(DigestSchedule {
        cron: cron?,
        timezone: timezone?,
        dm_members,
        channels,
    })
}
