//! Reading a workflow's `[[rule]]` list: conditions, approval groups, and the checks that
//! make sure every rule can be reached and every quorum can be filled.

use std::collections::BTreeSet;

use crate::policy::check::{FileCx, Table};
use crate::policy::expr::{parse_expr, typecheck, Expr};
use crate::policy::field_specs::ReadFields;
use crate::policy::model::{check_id, ApprovalGroup, Directory, Person, PersonId, Rule};
use crate::policy::raw::{Kind, Span};
use crate::policy::workflow_file::known_role;

const RULE_KEYS: &[&str] = &["name", "when", "approvals"];
const GROUP_KEYS: &[&str] = &["role", "count"];

/// Reads every `[[rule]]`, in file order.
pub(crate) fn read_rules(cx: &mut FileCx<'_>, root: &Table<'_>, dir: &Directory, fields: &ReadFields) -> Vec<Rule> {
    let Some((key, node)) = root.get("rule") else {
        cx.missing(root, "rule", " (at least one [[rule]]; the last one has no `when`)");
        return Vec::new();
    };
    let Kind::Array(items) = &node.kind else {
        let span = node.span.clone().or_else(|| key.span.clone());
        cx.at(
            &span,
            format!(
                "`rule` must be written as [[rule]] tables, not {}",
                node.kind.describe()
            ),
        );
        return Vec::new();
    };
    if items.is_empty() {
        cx.at(&node.span, "there must be at least one [[rule]]");
    }
    let mut rules = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let is_last = n + 1 == items.len();
        let Some(t) = cx.table(key, item, format!("[[rule]] #{}", n + 1)) else {
            continue;
        };
        let Some(rule) = read_rule(cx, &t, dir, fields, is_last) else {
            continue;
        };
        if names.contains(&rule.name) {
            cx.at(
                &t.value_span("name"),
                format!("rule `{}` is defined twice; rule names must be unique", rule.name),
            );
            continue;
        }
        names.push(rule.name.clone());
        rules.push(rule);
    }
    rules
}

fn read_rule(cx: &mut FileCx<'_>, t: &Table<'_>, dir: &Directory, fields: &ReadFields, is_last: bool) -> Option<Rule> {
    cx.check_keys(t, RULE_KEYS);
    let name = cx.required_string(t, "name", " (e.g. name = \"standard\")");
    if let Some((n, span)) = &name {
        if let Err(e) = check_id("rule name", n) {
            cx.at(span, e);
        }
    }
    let label = name
        .as_ref()
        .map_or_else(|| "this rule".to_owned(), |(n, _)| format!("rule `{n}`"));
    let when = cx.string(t, "when");
    let mut ok = true;
    match (&when, is_last) {
        (Some(_), true) => {
            cx.at(
                &t.key_span("when"),
                format!(
                    "the last rule ({label}) must not have a `when`: it is the fallback that \
                     applies when no other rule does"
                ),
            );
            ok = false;
        }
        (None, false) if t.get("when").is_none() => {
            cx.at(
                &t.span,
                format!(
                    "{label} has no `when` but is not the last rule: it would always apply and \
                     the rules after it could never be used"
                ),
            );
            ok = false;
        }
        _ => {}
    }
    let expr = when.as_ref().and_then(|(src, span)| read_when(cx, src, span, fields));
    let approvals = read_groups(cx, t, dir, &label);
    let name = name?;
    let (approvals, when_src) = (approvals?, when.map(|(s, _)| s));
    if !ok || (when_src.is_some() && expr.is_none()) {
        return None;
    }
    Some(Rule {
        name: name.0,
        when: expr,
        when_src,
        approvals,
    })
}

/// Parses and type-checks a condition, pointing errors at the token inside the string.
fn read_when(cx: &mut FileCx<'_>, src: &str, span: &Span, fields: &ReadFields) -> Option<Expr> {
    let result = parse_expr(src).and_then(|e| {
        // A condition naming a field that was itself refused cannot be checked; the field's
        // own problem is already reported.
        if e.fields_used().iter().any(|f| fields.refused.iter().any(|r| r == f)) {
            return Ok(None);
        }
        typecheck(&e, &fields.specs).map(|()| Some(e))
    });
    match result {
        Ok(None) => None,
        Ok(Some(e)) => Some(e),
        Err(e) => {
            // With escapes in the TOML string the offsets no longer line up; then point at
            // the string itself rather than at a wrong character.
            let at = match cx.string_content_start(span, src) {
                Some(start) => start + e.offset,
                None => span.as_ref().map_or(0, |s| s.start),
            };
            cx.at_offset(at, format!("in `when`: {}", e.message));
            None
        }
    }
}

fn read_groups(cx: &mut FileCx<'_>, t: &Table<'_>, dir: &Directory, label: &str) -> Option<Vec<ApprovalGroup>> {
    let hint = " (e.g. approvals = [{ role = \"finance-approver\", count = 1 }])";
    let Some((key, node)) = t.get("approvals") else {
        cx.missing(t, "approvals", hint);
        return None;
    };
    let Kind::Array(items) = &node.kind else {
        cx.at(
            &t.value_span("approvals"),
            format!("`approvals` must be a list of groups{hint}"),
        );
        return None;
    };
    if items.is_empty() {
        cx.at(&t.value_span("approvals"), format!("{label} has no approvals{hint}"));
        return None;
    }
    let mut groups: Vec<ApprovalGroup> = Vec::new();
    let mut ok = true;
    for item in items {
        let Some(g) = cx.table(key, item, format!("an approval group of {label}")) else {
            ok = false;
            continue;
        };
        match read_group(cx, &g, dir, label) {
            Some(group) if groups.iter().any(|x| x.role == group.role) => {
                cx.at(
                    &g.value_span("role"),
                    format!(
                        "role `{}` has two groups in {label}; use one group with a larger count",
                        group.role
                    ),
                );
                ok = false;
            }
            Some(group) => groups.push(group),
            None => ok = false,
        }
    }
    if ok && !can_fill(&groups, dir) {
        let people: BTreeSet<&PersonId> = groups
            .iter()
            .flat_map(|g| dir.holders(&g.role).into_iter().map(|p| &p.id))
            .collect();
        let total: u32 = groups.iter().map(|g| g.count).sum();
        cx.at(
            &node.span,
            format!(
                "{label} needs {total} approvals from different people, but only {} different \
                 people hold its roles and they cannot fill every group at once: nobody could \
                 ever approve it",
                people.len()
            ),
        );
        ok = false;
    }
    ok.then_some(groups)
}

fn read_group(cx: &mut FileCx<'_>, g: &Table<'_>, dir: &Directory, label: &str) -> Option<ApprovalGroup> {
    cx.check_keys(g, GROUP_KEYS);
    let role = cx.required_string(g, "role", "");
    let count = match cx.integer(g, "count") {
        Some((n, span)) => match u32::try_from(n) {
            Ok(c) if c >= 1 => Some((c, span)),
            _ => {
                cx.at(&span, format!("`count` must be at least 1, not {n}"));
                None
            }
        },
        None => {
            if g.get("count").is_none() {
                cx.missing(g, "count", " (how many different people must approve)");
            }
            None
        }
    };
    let (name, role_span) = role?;
    let role = known_role(cx, dir, &name, &role_span)?;
    let (count, count_span) = count?;
    let holders = dir.holders(&role);
    if usize::try_from(count).map_or(true, |c| c > holders.len()) {
        let names: Vec<&str> = holders.iter().map(|p| p.id.as_str()).collect();
        let who = match names.len() {
            0 => "no person holds that role (services never approve)".to_owned(),
            1 => format!("only 1 person holds that role ({})", names[0]),
            n => format!("only {n} people hold that role ({})", names.join(", ")),
        };
        cx.at(
            &count_span,
            format!("{label} needs {count} approvals from {role}, but {who}: nobody could ever approve it"),
        );
        return None;
    }
    Some(ApprovalGroup { role, count })
}

/// Whether distinct people can fill every slot of every group at once (one person, one
/// slot): a bipartite matching of slots to holders, by augmenting paths.
fn can_fill(groups: &[ApprovalGroup], dir: &Directory) -> bool {
    let people: Vec<&Person> = dir.people.values().collect();
    let slots: Vec<Vec<usize>> = groups
        .iter()
        .flat_map(|g| {
            let eligible: Vec<usize> = people
                .iter()
                .enumerate()
                .filter(|(_, p)| p.roles.contains(&g.role))
                .map(|(i, _)| i)
                .collect();
            (0..g.count).map(move |_| eligible.clone())
        })
        .collect();
    if slots.len() > people.len() {
        return false;
    }
    let mut owner_of: Vec<Option<usize>> = vec![None; people.len()];
    (0..slots.len()).all(|slot| {
        let mut seen = vec![false; people.len()];
        augment(slot, &slots, &mut owner_of, &mut seen)
    })
}

fn augment(slot: usize, slots: &[Vec<usize>], owner_of: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &p in &slots[slot] {
        if seen[p] {
            continue;
        }
        seen[p] = true;
        let free = match owner_of[p] {
            None => true,
            Some(other) => augment(other, slots, owner_of, seen),
        };
        if free {
            owner_of[p] = Some(slot);
            return true;
        }
    }
    false
}
