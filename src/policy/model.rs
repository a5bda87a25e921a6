//! The loaded policy as data: people, roles, teams, workflows, their fields and rules.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::chat::address::{ChatPlace, ChatUser, Handle, Platform};
use crate::policy::expr::Expr;
use crate::policy::value::{Currency, Fields, Money};

/// Checks the shared id syntax: `[a-z0-9][a-z0-9_-]{0,62}`; `kind` names the id in the message.
pub(crate) fn check_id(kind: &str, s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if first_ok && rest_ok && s.len() <= 63 {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a valid {kind}: use 1 to 63 lower-case letters, digits, `-` or `_`, \
             starting with a letter or digit"
        ))
    }
}

/// Declares a validated lower-case identifier newtype (person, role, team).
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses and validates the id syntax `[a-z0-9][a-z0-9_-]{0,62}`.
            pub fn parse(s: &str) -> Result<Self, String> {
                check_id($kind, s)?;
                Ok(Self(s.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A person's id from people.toml, e.g. `alice`.
    PersonId,
    "person id"
);
id_type!(
    /// A role name, e.g. `finance-approver`.
    Role,
    "role"
);
id_type!(
    /// A team id from people.toml, e.g. `finance-ops`.
    TeamId,
    "team id"
);

/// One `[[person]]` of people.toml.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Stable id used everywhere else (votes, audit entries).
    pub id: PersonId,
    /// Display name, e.g. "Alice Analyst".
    pub name: String,
    /// Roles this person holds.
    pub roles: BTreeSet<Role>,
    /// The identities that are this person, by platform (people.toml's `slack = [...]`,
    /// `discord = [...]`), in file order.
    pub chat: BTreeMap<Platform, Vec<Handle>>,
}

impl Person {
    /// This person's identities on `platform`.
    pub fn handles(&self, platform: Platform) -> &[Handle] {
        self.chat.get(&platform).map(Vec::as_slice).unwrap_or_default()
    }

    /// Where this person can be reached privately on the platform of `place`, preferring an
    /// identity in the same workspace.
    pub fn reach(&self, place: &ChatPlace) -> Option<ChatUser> {
        let handles = self.handles(place.platform);
        let same = handles
            .iter()
            .find(|h| h.workspace.is_some() && h.workspace == place.workspace);
        same.or(handles.first()).map(|h| ChatUser::at(place.platform, h))
    }

    /// Where this person can be reached privately on `platform`: their first identity there.
    pub fn reach_on(&self, platform: Platform) -> Option<ChatUser> {
        self.handles(platform).first().map(|h| ChatUser::at(platform, h))
    }
}

/// A `[team.<id>]` of people.toml: owners of workflows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// The team id.
    pub id: TeamId,
    /// Members, in file order; each is a person of the directory.
    pub members: Vec<PersonId>,
    /// When and where the team's health digest goes, if it has one.
    pub digest: Option<crate::policy::DigestSchedule>,
}

/// people.toml as loaded: who exists, their roles, identities and teams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directory {
    /// Everyone, by id.
    pub people: BTreeMap<PersonId, Person>,
    /// Service accounts (other systems calling the API), by id.
    pub services: BTreeMap<PersonId, crate::policy::integration::Service>,
    /// Teams, by id.
    pub teams: BTreeMap<TeamId, Team>,
    /// sha256 hex of the people.toml bytes, recorded in the audit log.
    pub hash: String,
}

impl Directory {
    /// The person with this id.
    pub fn person(&self, id: &PersonId) -> Option<&Person> {
        self.people.get(id)
    }

    /// The person who owns this chat user (in its workspace, on platforms that have them).
    pub fn by_chat(&self, user: &ChatUser) -> Option<&Person> {
        self.people.values().find(|p| {
            p.handles(user.platform)
                .iter()
                .any(|h| h.workspace == user.workspace && h.id == user.user)
        })
    }

    /// The service account with this id.
    pub fn service(&self, id: &PersonId) -> Option<&crate::policy::integration::Service> {
        self.services.get(id)
    }

    /// A person's or a service's display name.
    pub fn display_name(&self, id: &PersonId) -> Option<&str> {
        self.person(id)
            .map(|p| p.name.as_str())
            .or_else(|| self.service(id).map(|s| s.name.as_str()))
    }

    /// People holding a role, in id order.
    pub fn holders(&self, role: &Role) -> Vec<&Person> {
        self.people.values().filter(|p| p.roles.contains(role)).collect()
    }
}

/// Everything in a commands/ directory, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySet {
    /// people.toml.
    pub directory: Directory,
    /// Every workflow, by id.
    pub workflows: BTreeMap<String, Workflow>,
}

impl PolicySet {
    /// The workflow with this id.
    pub fn workflow(&self, id: &str) -> Option<&Workflow> {
        self.workflows.get(id)
    }

    /// The workflow whose reference prefix is `prefix` (case-insensitive, so `inv-3` works).
    pub fn workflow_by_prefix(&self, prefix: &str) -> Option<&Workflow> {
        self.workflows.values().find(|w| w.prefix.eq_ignore_ascii_case(prefix))
    }
}

/// One workflow file, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workflow {
    /// Equals the file stem: invoice.toml has id `invoice`.
    pub id: String,
    /// Human title.
    pub title: String,
    /// Reference prefix, upper-case A-Z, 2 to 8 letters (`INV` gives `INV-42`).
    pub prefix: String,
    /// The team that owns the workflow and receives its digests.
    pub owner: TeamId,
    /// Free text for people.
    pub description: String,
    /// Fields in file order.
    pub fields: Vec<FieldSpec>,
    /// Who may open and who may view requests.
    pub access: Access,
    /// Rules in file order; the last has no `when`.
    pub rules: Vec<Rule>,
    /// Expiry and reminders.
    pub lifecycle: Lifecycle,
    /// Where requests opened outside chat are announced.
    pub announce: crate::policy::integration::Announce,
    /// Where decision receipts are delivered.
    pub webhooks: Vec<crate::policy::integration::Webhook>,
    /// What an approval does (`[effect]`), if anything.
    pub effect: Option<crate::policy::effect::Effect>,
    /// sha256 hex of the workflow file's bytes.
    pub policy_hash: String,
    /// The file it came from.
    pub source: PathBuf,
}

/// `[access]`: roles allowed to request and to view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// Roles that may open a request.
    pub request: Vec<Role>,
    /// Roles that may view requests (defaults to request roles plus approver roles).
    pub view: Vec<Role>,
}

/// `[lifecycle]`: how long a pending request lives and when to remind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    /// A pending request expires after this long (default 72h).
    pub expires_after: Duration,
    /// Approvers are reminded after this long, if set.
    pub remind_after: Option<Duration>,
}

/// One `[fields.<name>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// Field name, as used in `field=value` input and in `when` expressions.
    pub name: String,
    /// Optional human label.
    pub label: Option<String>,
    /// Type and limits.
    pub kind: FieldKind,
    /// Whether a request must carry it.
    pub required: bool,
}

/// Default limit for text fields without `max_length`.
pub const DEFAULT_TEXT_MAX_LENGTH: usize = 500;

/// A field's type and limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Exact money in one currency.
    Money {
        /// The currency every value is in.
        currency: Currency,
        /// Smallest allowed amount, inclusive.
        min: Option<Money>,
        /// Largest allowed amount, inclusive.
        max: Option<Money>,
    },
    /// Free text; limited to [`DEFAULT_TEXT_MAX_LENGTH`] characters when `max_length` is absent.
    Text {
        /// Limit in characters.
        max_length: Option<usize>,
    },
    /// A whole number.
    Integer {
        /// Smallest allowed value, inclusive.
        min: Option<i64>,
        /// Largest allowed value, inclusive.
        max: Option<i64>,
    },
    /// A calendar date, written YYYY-MM-DD.
    Date,
    /// One of a fixed list of options.
    Choice {
        /// The allowed options, in file order.
        options: Vec<String>,
    },
}

impl FieldKind {
    /// The type's name as written in the file: `money`, `text`, ...
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldKind::Money { .. } => "money",
            FieldKind::Text { .. } => "text",
            FieldKind::Integer { .. } => "integer",
            FieldKind::Date => "date",
            FieldKind::Choice { .. } => "choice",
        }
    }
}

/// One `[[rule]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Unique within the workflow; stored with each request.
    pub name: String,
    /// The condition; `None` only on the last rule.
    pub when: Option<Expr>,
    /// The condition as written.
    pub when_src: Option<String>,
    /// Every group must reach its count, from distinct people.
    pub approvals: Vec<ApprovalGroup>,
}

/// `{ role = "...", count = N }`: N distinct holders of the role must approve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalGroup {
    /// Who may fill the group's slots.
    pub role: Role,
    /// How many slots (at least 1).
    pub count: u32,
}

/// A problem with one field of user input; the message is written for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field as the user named it.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Workflow {
    /// The field spec with this name.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The first rule whose `when` holds (the last always matches).
    pub fn select_rule(&self, fields: &Fields) -> &Rule {
        let matched = self.rules.iter().find(|r| match &r.when {
            None => true,
            Some(when) => when.eval(fields),
        });
        // Loading guarantees a last rule without `when`, so `matched` is always Some
        // for a loaded workflow; the fallback keeps hand-built workflows total.
        match matched.or(self.rules.last()) {
            Some(rule) => rule,
            None => panic!("workflow `{}` has no rules; PolicySet::load refuses that", self.id),
        }
    }

    /// Roles that may approve under any rule (union of all groups' roles).
    pub fn approver_roles(&self) -> BTreeSet<Role> {
        self.rules
            .iter()
            .flat_map(|r| r.approvals.iter().map(|g| g.role.clone()))
            .collect()
    }
}
