//! Who is acting: a chat identity (Slack, Discord, console) resolved to a person of the directory.

use crate::chat::address::ChatUser;
use crate::policy::{Directory, Person, PersonId, Role, TeamId};
use std::collections::BTreeSet;
use std::fmt;

/// Where an action came from, as recorded in the audit log (`slack:T0001/U0ALICE`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    /// A user of a chat platform (a Slack user in its workspace, a Discord user id).
    Chat(ChatUser),
    /// The local console, acting as a named person.
    Console(PersonId),
    /// The HTTP API, as the `sub` of a verified token (a person or service id, or an id the
    /// directory does not know).
    Api(String),
    /// The HTTP API before any token was verified: the caller is unknown.
    ApiUnverified,
    /// The system itself (expiry, sealing, loading policy): no person.
    System,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Chat(u) => match &u.workspace {
                Some(w) => write!(f, "{}:{w}/{}", u.platform, u.user),
                None => write!(f, "{}:{}", u.platform, u.user),
            },
            Identity::Console(p) => write!(f, "console:{p}"),
            Identity::Api(p) => write!(f, "api:{p}"),
            Identity::ApiUnverified => f.write_str("api:?"),
            Identity::System => f.write_str("system"),
        }
    }
}

/// A resolved caller: the person behind an identity, with the roles they hold now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The person.
    pub person: PersonId,
    /// Their display name.
    pub name: String,
    /// Their roles, from people.toml.
    pub roles: BTreeSet<Role>,
    /// The identity they acted through.
    pub identity: Identity,
}

impl Actor {
    fn from_person(person: &Person, identity: Identity) -> Self {
        Actor {
            person: person.id.clone(),
            name: person.name.clone(),
            roles: person.roles.clone(),
            identity,
        }
    }

    /// Whether the actor holds any of `roles`.
    pub fn holds_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.roles.contains(r))
    }
}

/// Resolves an identity to an actor; `None` when the directory does not know it. Only the API
/// reaches service accounts: they have no chat identity.
pub fn resolve(dir: &Directory, identity: &Identity) -> Option<Actor> {
    let person = match identity {
        Identity::Chat(user) => dir.by_chat(user),
        Identity::Console(id) => dir.person(id),
        Identity::Api(sub) => {
            let id = PersonId::parse(sub).ok()?;
            if let Some(service) = dir.service(&id) {
                return Some(Actor {
                    person: service.id.clone(),
                    name: service.name.clone(),
                    roles: service.roles.clone(),
                    identity: identity.clone(),
                });
            }
            dir.person(&id)
        }
        Identity::System | Identity::ApiUnverified => None,
    }?;
    Some(Actor::from_person(person, identity.clone()))
}

/// The teams a person belongs to.
pub fn teams_of<'a>(dir: &'a Directory, person: &PersonId) -> Vec<&'a TeamId> {
    dir.teams
        .values()
        .filter(|t| t.members.contains(person))
        .map(|t| &t.id)
        .collect()
}
