//! Reading people.toml into a [`Directory`]: people, roles, chat identities and teams.

use std::collections::{BTreeMap, BTreeSet};

use crate::chat::address::Platform;
use crate::policy::check::{line_col, FileCx, Table};
use crate::policy::digest_schedule::read_digest;
use crate::policy::integration::Service;
use crate::policy::model::{Directory, Person, PersonId, Role, Team, TeamId};
use crate::policy::raw::{Key, Kind, Node, Span};

const ROOT_KEYS: &[&str] = &["person", "service", "team"];
const SERVICE_KEYS: &[&str] = &["id", "name", "roles"];
const TEAM_KEYS: &[&str] = &["members", "digest"];

/// Reads people.toml. Problems go to `cx`; the directory holds every person and team that
/// could be read, so workflows can still be checked against it.
pub(crate) fn read_directory(cx: &mut FileCx<'_>, root: &Node, hash: String) -> Directory {
    let mut dir = Directory {
        people: BTreeMap::new(),
        services: BTreeMap::new(),
        teams: BTreeMap::new(),
        hash,
    };
    let Some(root) = cx.root_table(root, "people.toml") else {
        return dir;
    };
    cx.check_keys(&root, ROOT_KEYS);
    // Where each person id and chat identity was first defined, to name it on a repeat.
    let mut claims: BTreeMap<String, (String, Span)> = BTreeMap::new();
    let mut first_seen: BTreeMap<PersonId, Span> = BTreeMap::new();
    if let Some((key, node)) = root.get("person") {
        match &node.kind {
            Kind::Array(items) => {
                for (n, item) in items.iter().enumerate() {
                    let what = format!("[[person]] #{}", n + 1);
                    let Some(t) = cx.table(key, item, what) else {
                        continue;
                    };
                    if let Some(p) = read_person(cx, &t, &mut claims, &mut first_seen) {
                        dir.people.entry(p.id.clone()).or_insert(p);
                    }
                }
            }
            other => cx.at(
                &node.span.clone().or_else(|| key.span.clone()),
                format!(
                    "`person` must be written as [[person]] tables, not {}",
                    other.describe()
                ),
            ),
        }
    }
    if let Some((key, node)) = root.get("service") {
        match &node.kind {
            Kind::Array(items) => {
                for (n, item) in items.iter().enumerate() {
                    let Some(t) = cx.table(key, item, format!("[[service]] #{}", n + 1)) else {
                        continue;
                    };
                    if let Some(s) = read_service(cx, &t, &dir, &mut first_seen) {
                        dir.services.insert(s.id.clone(), s);
                    }
                }
            }
            other => cx.at(
                &node.span.clone().or_else(|| key.span.clone()),
                format!(
                    "`service` must be written as [[service]] tables, not {}",
                    other.describe()
                ),
            ),
        }
    }
    if let Some((key, node)) = root.get("team") {
        if let Some(teams) = cx.table(key, node, "[team]".to_owned()) {
            for (team_key, team_node) in teams.entries {
                if let Some(team) = read_team(cx, &dir, team_key, team_node) {
                    dir.teams.insert(team.id.clone(), team);
                }
            }
        }
    }
    dir
}

fn read_person(
    cx: &mut FileCx<'_>,
    t: &Table<'_>,
    claims: &mut BTreeMap<String, (String, Span)>,
    first_seen: &mut BTreeMap<PersonId, Span>,
) -> Option<Person> {
    let keys: Vec<&str> = ["id", "name", "roles"]
        .into_iter()
        .chain(Platform::ALL.map(Platform::as_str))
        .collect();
    cx.check_keys(t, &keys);
    let id = read_id(cx, t, "person", "alice");
    let name = cx.required_string(t, "name", " (e.g. name = \"Alice Analyst\")");
    if let Some((n, span)) = &name {
        if n.trim().is_empty() {
            cx.at(span, "`name` must not be empty");
        }
    }
    let listed = cx.string_list(t, "roles").unwrap_or_default();
    let roles = read_roles(cx, listed);
    // A repeated person is reported once, at its id; its identities would only repeat
    // the first definition's.
    if let Some((pid, id_span)) = &id {
        if let Some(first) = first_seen.get(pid) {
            let line = first.as_ref().map_or(1, |s| line_col(cx.text, s.start).0);
            cx.at(
                id_span,
                format!("person `{pid}` is defined twice (first on line {line})"),
            );
            return None;
        }
        first_seen.insert(pid.clone(), id_span.clone());
    }
    // Identities are checked even when the id is bad, so every problem shows in one run;
    // they are claimed only for a valid id.
    let owner = id.as_ref().map(|(pid, _)| pid);
    let mut chat = BTreeMap::new();
    for platform in Platform::ALL {
        let mut handles = Vec::new();
        for (s, span) in cx.string_list(t, platform.as_str()).unwrap_or_default() {
            match platform.parse_handle(&s) {
                Ok(h) if claim(cx, claims, format!("{} {h}", platform.identity_noun()), owner, &span) => {
                    handles.push(h)
                }
                Ok(_) => {}
                Err(e) => cx.at(&span, e),
            }
        }
        if !handles.is_empty() {
            chat.insert(platform, handles);
        }
    }
    let (id, _) = id?;
    let name = name.map(|(n, _)| n).unwrap_or_default();
    Some(Person { id, name, roles, chat })
}

/// The required `id` of a person or service (`kind`), with an example in the message when missing.
fn read_id(cx: &mut FileCx<'_>, t: &Table<'_>, kind: &str, example: &str) -> Option<(PersonId, Span)> {
    let (s, span) = cx.required_string(t, "id", &format!(" (e.g. id = \"{example}\")"))?;
    match PersonId::parse(&s) {
        Ok(id) => Some((id, span)),
        Err(e) => {
            cx.at(&span, e.replace("person id", &format!("{kind} id")));
            None
        }
    }
}

/// Parses a `roles` list, reporting bad names and repeats where they are written.
fn read_roles(cx: &mut FileCx<'_>, listed: Vec<(String, Span)>) -> BTreeSet<Role> {
    let mut roles = BTreeSet::new();
    for (r, span) in listed {
        match Role::parse(&r) {
            Ok(role) => {
                if !roles.insert(role) {
                    cx.at(&span, format!("role `{r}` is listed twice"));
                }
            }
            Err(e) => cx.at(&span, e),
        }
    }
    roles
}

/// Reads one `[[service]]`. Its id shares the namespace of people's ids: a token's `sub` must
/// name exactly one caller.
fn read_service(
    cx: &mut FileCx<'_>,
    t: &Table<'_>,
    dir: &Directory,
    first_seen: &mut BTreeMap<PersonId, Span>,
) -> Option<Service> {
    cx.check_keys(t, SERVICE_KEYS);
    let id = read_id(cx, t, "service", "deploy-pipeline");
    let name = cx.string(t, "name").map(|(n, _)| n);
    let listed = cx.string_list(t, "roles");
    if listed.is_none() && t.get("roles").is_none() {
        cx.missing(t, "roles", " (e.g. roles = [\"deployer\"])");
    }
    let roles = read_roles(cx, listed.unwrap_or_default());
    let (id, span) = id?;
    if let Some(first) = first_seen.get(&id) {
        let line = first.as_ref().map_or(1, |s| line_col(cx.text, s.start).0);
        let what = if dir.people.contains_key(&id) {
            "a person"
        } else {
            "another service"
        };
        cx.at(
            &span,
            format!("`{id}` is already {what} (line {line}): a service needs an id of its own"),
        );
        return None;
    }
    first_seen.insert(id.clone(), span);
    Some(Service {
        name: name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| id.to_string()),
        id,
        roles,
    })
}

/// Records that `who` claims an identity; refuses one already claimed. One chat identity must
/// map to exactly one person, or the bot could not tell who clicked. Without a valid `who`
/// nothing is recorded and the answer is false.
fn claim(
    cx: &mut FileCx<'_>,
    claims: &mut BTreeMap<String, (String, Span)>,
    identity: String,
    who: Option<&PersonId>,
    span: &Span,
) -> bool {
    let Some(who) = who else { return false };
    if let Some((owner, first)) = claims.get(&identity) {
        let line = first.as_ref().map_or(1, |s| line_col(cx.text, s.start).0);
        let by = if owner == who.as_str() {
            "this person".to_owned()
        } else {
            format!("`{owner}`")
        };
        cx.at(span, format!("{identity} is already claimed by {by} (line {line})"));
        return false;
    }
    claims.insert(identity, (who.as_str().to_owned(), span.clone()));
    true
}

fn read_team(cx: &mut FileCx<'_>, dir: &Directory, key: &Key, node: &Node) -> Option<Team> {
    let key_span = key.span.clone().or_else(|| node.span.clone());
    let id = match TeamId::parse(&key.name) {
        Ok(id) => id,
        Err(e) => {
            cx.at(&key_span, e);
            return None;
        }
    };
    let t = cx.table(key, node, format!("[team.{id}]"))?;
    cx.check_keys(&t, TEAM_KEYS);
    let Some(listed) = cx.string_list(&t, "members") else {
        if t.get("members").is_none() {
            cx.missing(&t, "members", " (e.g. members = [\"alice\"])");
        }
        return None;
    };
    if listed.is_empty() {
        cx.at(
            &t.value_span("members"),
            format!("team `{id}` has no members; an owner team needs at least one person"),
        );
    }
    let mut members = Vec::new();
    for (m, span) in listed {
        match PersonId::parse(&m) {
            Ok(pid) if dir.people.contains_key(&pid) => {
                if members.contains(&pid) {
                    cx.at(&span, format!("`{m}` is listed twice in team `{id}`"));
                } else {
                    members.push(pid);
                }
            }
            Ok(_) => cx.at(
                &span,
                format!("team `{id}` lists `{m}`, who is not a [[person]] in people.toml"),
            ),
            Err(e) => cx.at(&span, e),
        }
    }
    let digest = t.get("digest").and_then(|(k, n)| read_digest(cx, id.as_str(), k, n));
    Some(Team { id, members, digest })
}
