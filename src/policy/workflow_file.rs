//! Reading one `<workflow>.toml` into a [`Workflow`], checked against the directory.

use std::path::Path;
use std::time::Duration;

use crate::policy::check::{list_or_none, FileCx, Table};
use crate::policy::duration::parse_duration;
use crate::policy::field_specs::read_fields;
use crate::policy::model::{check_id, Access, Directory, Lifecycle, Role, TeamId, Workflow};
use crate::policy::raw::{Node, Span};
use crate::policy::rules::read_rules;
use crate::policy::workflow_links::{read_announce, read_webhooks};

const ROOT_KEYS: &[&str] = &[
    "id",
    "title",
    "prefix",
    "owner",
    "description",
    "fields",
    "access",
    "rule",
    "lifecycle",
    "announce",
    "webhook",
    "effect",
];
const ACCESS_KEYS: &[&str] = &["request", "view"];
const LIFECYCLE_KEYS: &[&str] = &["expires_after", "remind_after"];
/// Used when `[lifecycle]` or its `expires_after` is absent.
const DEFAULT_EXPIRES_AFTER: Duration = Duration::from_secs(72 * 3600);

/// What was read from a workflow file: the id and prefix (for checks across files) even when
/// the file has other problems, and the workflow itself only when the file is clean.
pub(crate) struct ReadWorkflow {
    pub id: Option<(String, Span)>,
    pub prefix: Option<(String, Span)>,
    pub workflow: Option<Workflow>,
}

/// Reads a workflow file whose text is in `cx`. `stem` is the file name without `.toml`.
pub(crate) fn read_workflow(
    cx: &mut FileCx<'_>,
    root: &Node,
    dir: &Directory,
    stem: &str,
    policy_hash: String,
) -> ReadWorkflow {
    let errors_before = cx.errors.len();
    let mut out = ReadWorkflow {
        id: None,
        prefix: None,
        workflow: None,
    };
    let Some(root) = cx.root_table(root, "the workflow") else {
        return out;
    };
    cx.check_keys(&root, ROOT_KEYS);

    let id = cx.required_string(&root, "id", &format!(" (it must be \"{stem}\", the file's name)"));
    if let Some((id, span)) = &id {
        if let Err(e) = check_id("workflow id", id) {
            cx.at(span, e);
        } else if id != stem {
            cx.at(
                span,
                format!("id `{id}` must equal the file's name: {stem}.toml needs id = \"{stem}\""),
            );
        }
    }
    let title = cx.required_string(&root, "title", " (e.g. title = \"Invoice payment\")");
    if let Some((t, span)) = &title {
        if t.trim().is_empty() {
            cx.at(span, "`title` must not be empty");
        }
    }
    let prefix = cx.required_string(&root, "prefix", " (2 to 8 capital letters, e.g. prefix = \"INV\")");
    if let Some((p, span)) = &prefix {
        if !(2..=8).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_uppercase()) {
            cx.at(
                span,
                format!("prefix `{p}` must be 2 to 8 capital letters A-Z, e.g. INV"),
            );
        }
    }
    let owner = read_owner(cx, &root, dir);
    let description = cx.string(&root, "description").map(|(s, _)| s).unwrap_or_default();
    let fields = read_fields(cx, &root);
    let request = read_access(cx, &root, dir);
    let rules = read_rules(cx, &root, dir, &fields);
    let fields = fields.specs;
    let lifecycle = read_lifecycle(cx, &root);
    let announce = read_announce(cx, &root);
    let webhooks = read_webhooks(cx, &root);
    let effect = crate::policy::effect::read_effect(cx, &root, &fields);
    out.id = id.clone();
    out.prefix = prefix.clone();

    if cx.errors.len() != errors_before {
        return out;
    }
    // With no problem reported, every part was read; the checks keep this total anyway.
    let (Some((id, _)), Some((title, _)), Some((prefix, _))) = (id, title, prefix) else {
        return out;
    };
    let (Some(owner), Some((request, view)), Some(lifecycle)) = (owner, request, lifecycle) else {
        return out;
    };
    let mut workflow = Workflow {
        id,
        title,
        prefix,
        owner,
        description,
        fields,
        access: Access {
            request,
            view: Vec::new(),
        },
        rules,
        lifecycle,
        announce,
        webhooks,
        effect,
        policy_hash,
        source: cx.path.to_path_buf(),
    };
    workflow.access.view = view.unwrap_or_else(|| default_view(&workflow));
    out.workflow = Some(workflow);
    out
}

/// Without `view`, everyone who may request or approve may view.
fn default_view(wf: &Workflow) -> Vec<Role> {
    let mut view = wf.access.request.clone();
    for role in wf.rules.iter().flat_map(|r| r.approvals.iter().map(|g| &g.role)) {
        if !view.contains(role) {
            view.push(role.clone());
        }
    }
    view
}

fn read_owner(cx: &mut FileCx<'_>, root: &Table<'_>, dir: &Directory) -> Option<TeamId> {
    let (owner, span) = cx.required_string(
        root,
        "owner",
        " (a team from people.toml, e.g. owner = \"finance-ops\")",
    )?;
    let team = match TeamId::parse(&owner) {
        Ok(t) => t,
        Err(e) => {
            cx.at(&span, e);
            return None;
        }
    };
    if let Some(t) = dir.teams.get(&team) {
        if t.digest.is_none() {
            cx.at(
                &span,
                format!(
                    "team `{owner}` owns this workflow but has no digest: add [team.{owner}.digest] to people.toml \
                     (cron, timezone, and dm_members or a channel) so its owners hear how the workflow is doing"
                ),
            );
        }
        Some(team)
    } else {
        let known: Vec<&str> = dir.teams.keys().map(TeamId::as_str).collect();
        cx.at(
            &span,
            format!(
                "unknown owner team `{owner}`; people.toml defines: {}",
                list_or_none(&known)
            ),
        );
        None
    }
}

/// Parses a role used by this workflow; it must be held by at least one person, otherwise it
/// is almost certainly a typo and the rule could never be satisfied.
pub(crate) fn known_role(cx: &mut FileCx<'_>, dir: &Directory, name: &str, span: &Span) -> Option<Role> {
    let role = match Role::parse(name) {
        Ok(r) => r,
        Err(e) => {
            cx.at(span, e);
            return None;
        }
    };
    if dir.holders(&role).is_empty() && !dir.services.values().any(|s| s.roles.contains(&role)) {
        cx.at(
            span,
            format!("unknown role `{name}`: no person or service in people.toml holds it"),
        );
        return None;
    }
    Some(role)
}

/// `[access]`: returns the request roles and, when given, the view roles.
fn read_access(cx: &mut FileCx<'_>, root: &Table<'_>, dir: &Directory) -> Option<(Vec<Role>, Option<Vec<Role>>)> {
    let Some((key, node)) = root.get("access") else {
        cx.missing(
            root,
            "access",
            " (an [access] table with `request`, the roles that may open requests)",
        );
        return None;
    };
    let t = cx.table(key, node, "[access]".to_owned())?;
    cx.check_keys(&t, ACCESS_KEYS);
    if t.get("request").is_none() {
        cx.missing(
            &t,
            "request",
            " (the roles that may open requests, e.g. request = [\"analyst\"])",
        );
    }
    let roles_of = |cx: &mut FileCx<'_>, key: &str| -> Option<Vec<Role>> {
        let listed = cx.string_list(&t, key)?;
        if listed.is_empty() {
            cx.at(&t.value_span(key), format!("`{key}` in [access] lists no roles"));
        }
        let mut roles: Vec<Role> = Vec::new();
        for (name, span) in listed {
            if let Some(role) = known_role(cx, dir, &name, &span) {
                if roles.contains(&role) {
                    cx.at(&span, format!("role `{role}` is listed twice"));
                } else {
                    roles.push(role);
                }
            }
        }
        Some(roles)
    };
    let request = roles_of(cx, "request");
    let view = roles_of(cx, "view");
    Some((request?, view))
}

fn read_lifecycle(cx: &mut FileCx<'_>, root: &Table<'_>) -> Option<Lifecycle> {
    let default = Lifecycle {
        expires_after: DEFAULT_EXPIRES_AFTER,
        remind_after: None,
    };
    let Some((key, node)) = root.get("lifecycle") else {
        return Some(default);
    };
    let t = cx.table(key, node, "[lifecycle]".to_owned())?;
    cx.check_keys(&t, LIFECYCLE_KEYS);
    let duration = |cx: &mut FileCx<'_>, key: &str| -> Result<Option<Duration>, ()> {
        if t.get(key).is_none() {
            return Ok(None);
        }
        let (text, span) = cx.string(&t, key).ok_or(())?;
        parse_duration(&text)
            .map(Some)
            .map_err(|e| cx.at(&span, format!("`{key}`: {e}")))
    };
    let expires = duration(cx, "expires_after");
    let remind = duration(cx, "remind_after");
    let expires_after = expires.ok()?.unwrap_or(DEFAULT_EXPIRES_AFTER);
    let remind_after = remind.ok()?;
    if remind_after.is_some_and(|r| r >= expires_after) {
        cx.at(
            &t.value_span("remind_after"),
            "`remind_after` must be shorter than `expires_after`, or the reminder would never be sent",
        );
        return None;
    }
    Some(Lifecycle {
        expires_after,
        remind_after,
    })
}

/// The file stem of a path, as text.
pub(crate) fn stem_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
