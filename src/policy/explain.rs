//! A workflow's rules in plain language, as text (chat, terminal) or as a Markdown page for
//! docs/workflows/. The output is deterministic: it is compared byte for byte with committed
//! files, so it depends only on the workflow and the directory.

use crate::policy::duration::describe_duration;
use crate::policy::model::{Directory, FieldKind, FieldSpec, Person, Role, Rule, Workflow, DEFAULT_TEXT_MAX_LENGTH};

pub use crate::policy::describe::describe_expr;

/// The facts both renderings share, each already phrased.
struct Facts {
    reference: String,
    owner: String,
    request: String,
    view: String,
    policy: String,
    fields: Vec<FieldLine>,
    rules: Vec<String>,
    decisions: Vec<String>,
    lifecycle: Vec<String>,
}

struct FieldLine {
    name: String,
    label: Option<String>,
    kind: String,
    required: bool,
    limits: String,
}

fn names_of(people: &[&Person]) -> String {
    let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
    if names.is_empty() {
        "nobody".to_owned()
    } else {
        names.join(", ")
    }
}

/// "finance-approver (Carol Approver, Heidi Approver)".
fn role_with_holders(role: &Role, dir: &Directory) -> String {
    format!("{role} ({})", names_of(&dir.holders(role)))
}

fn roles_with_holders(roles: &[Role], dir: &Directory) -> String {
    roles
        .iter()
        .map(|r| role_with_holders(r, dir))
        .collect::<Vec<_>>()
        .join(", ")
}

fn range<T: std::fmt::Display>(min: Option<T>, max: Option<T>) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) => format!("from {lo} to {hi}"),
        (Some(lo), None) => format!("at least {lo}"),
        (None, Some(hi)) => format!("at most {hi}"),
        (None, None) => "any amount".to_owned(),
    }
}

fn field_line(f: &FieldSpec) -> FieldLine {
    let (kind, limits) = match &f.kind {
        FieldKind::Money { currency, min, max } => (format!("money in {currency}"), range(min.as_ref(), max.as_ref())),
        FieldKind::Text { max_length } => (
            "text".to_owned(),
            format!("at most {} characters", max_length.unwrap_or(DEFAULT_TEXT_MAX_LENGTH)),
        ),
        FieldKind::Integer { min, max } => {
            let r = range(*min, *max);
            (
                "whole number".to_owned(),
                if r == "any amount" {
                    "any whole number".into()
                } else {
                    r
                },
            )
        }
        FieldKind::Date => ("date".to_owned(), "written YYYY-MM-DD".to_owned()),
        FieldKind::Choice { options } => ("choice".to_owned(), format!("one of {}", options.join(", "))),
    };
    FieldLine {
        name: f.name.clone(),
        label: f.label.clone(),
        kind,
        required: f.required,
        limits,
    }
}

/// "It needs 1 approval from finance-approver (...) and 1 approval from finance-director
/// (...), each from a different person."
fn needs(rule: &Rule, dir: &Directory) -> String {
    let groups: Vec<String> = rule
        .approvals
        .iter()
        .map(|g| {
            let noun = if g.count == 1 { "approval" } else { "approvals" };
            format!("{} {noun} from {}", g.count, role_with_holders(&g.role, dir))
        })
        .collect();
    let total: u32 = rule.approvals.iter().map(|g| g.count).sum();
    let joined = match groups.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => groups.join(""),
    };
    let distinct = if total > 1 {
        ", each from a different person"
    } else {
        ""
    };
    format!("It needs {joined}{distinct}.")
}

fn rule_sentence(n: usize, rule: &Rule, wf: &Workflow, dir: &Directory) -> String {
    let head = match &rule.when {
        Some(expr) => format!("Rule `{}` applies when {}.", rule.name, describe_expr(expr, wf)),
        None if n == 0 => format!("Rule `{}` always applies.", rule.name),
        None => format!("Otherwise, rule `{}` applies.", rule.name),
    };
    format!(
        "{head} {} The requester can never approve their own request.",
        needs(rule, dir)
    )
}

fn facts(wf: &Workflow, dir: &Directory) -> Facts {
    let members: Vec<&Person> = dir
        .teams
        .get(&wf.owner)
        .map(|t| t.members.iter().filter_map(|m| dir.person(m)).collect())
        .unwrap_or_default();
    let file = wf
        .source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("{}.toml", wf.id));
    let mut lifecycle = vec![format!(
        "A pending request expires after {}.",
        describe_duration(wf.lifecycle.expires_after)
    )];
    lifecycle.push(match wf.lifecycle.remind_after {
        Some(d) => format!(
            "Approvers are reminded after {} if the request is still pending.",
            describe_duration(d)
        ),
        None => "No reminders are sent.".to_owned(),
    });
    let mut decisions = vec![
        "Every approval group of the rule must reach its count. One person fills at most one \
         slot, and a vote that can fill no open slot is refused (group_full)."
            .to_owned(),
        "One reject from anyone who could approve under the rule rejects the request; a reject \
         needs a reason."
            .to_owned(),
        "The requester may amend a pending request: that creates a new version and voids the \
         votes cast on earlier versions. A vote counts only for the version the voter saw."
            .to_owned(),
    ];
    if wf.fields.iter().any(|f| matches!(f.kind, FieldKind::Money { .. })) {
        decisions.push(
            "Money is exact: an amount with more decimals than its currency allows is refused, \
             never rounded."
                .to_owned(),
        );
    }
    Facts {
        reference: format!("{p}-1, {p}-2, ... (numbered per workflow)", p = wf.prefix),
        owner: format!("team {} ({})", wf.owner, names_of(&members)),
        request: roles_with_holders(&wf.access.request, dir),
        view: roles_with_holders(&wf.access.view, dir),
        policy: format!("{file}, sha256 {}", wf.policy_hash),
        fields: wf.fields.iter().map(field_line).collect(),
        rules: wf
            .rules
            .iter()
            .enumerate()
            .map(|(n, r)| rule_sentence(n, r, wf, dir))
            .collect(),
        decisions,
        lifecycle,
    }
}

/// The workflow in plain text, for chat (`/approval policy`) and `countersign explain`.
pub fn explain_text(wf: &Workflow, dir: &Directory) -> String {
    let f = facts(wf, dir);
    let mut out = format!("{} ({})\n", wf.title, wf.id);
    if !wf.description.trim().is_empty() {
        out.push_str(&format!("{}\n", wf.description.trim()));
    }
    out.push('\n');
    out.push_str(&format!("Reference: {}\n", f.reference));
    out.push_str(&format!("Owner: {}\n", f.owner));
    out.push_str(&format!("May request: {}\n", f.request));
    out.push_str(&format!("May view: {}\n", f.view));
    out.push_str(&format!("Policy: {}\n", f.policy));
    out.push_str("\nFields:\n");
    for l in &f.fields {
        let label = l.label.as_ref().map(|s| format!(" \"{s}\"")).unwrap_or_default();
        let req = if l.required { "required" } else { "optional" };
        out.push_str(&format!("- {}{label}: {}, {req}, {}\n", l.name, l.kind, l.limits));
    }
    out.push_str("\nRules, checked in order; the first that applies decides:\n");
    for (n, r) in f.rules.iter().enumerate() {
        out.push_str(&format!("{}. {r}\n", n + 1));
    }
    out.push_str("\nDecisions:\n");
    for d in &f.decisions {
        out.push_str(&format!("- {d}\n"));
    }
    out.push_str("\nLifecycle:\n");
    for l in &f.lifecycle {
        out.push_str(&format!("- {l}\n"));
    }
    if let Some(e) = effect_phrase(wf) {
        out.push_str(&format!(
            "\nWhen approved:\n- {e}\n  {}\n",
            wf.effect.as_ref().map_or("", |e| e.sql.trim())
        ));
    }
    out
}

/// The effect in plain language: where it runs, exactly once, what it must change, what
/// values it is given.
fn effect_phrase(wf: &Workflow) -> Option<String> {
    use crate::policy::effect::{ExpectRows, Param};
    let e = wf.effect.as_ref()?;
    let place = if e.target.is_own() {
        "in Countersign's own database, in the same transaction as the deciding vote".to_string()
    } else {
        format!(
            "once on the database `{}` (its URL in {})",
            e.target,
            e.target.env_var()
        )
    };
    let rows = match e.expect_rows {
        ExpectRows::Exactly(1) => ", and must change exactly 1 row (any other count is rolled back)".to_string(),
        ExpectRows::Exactly(n) => format!(", and must change exactly {n} rows (any other count is rolled back)"),
        ExpectRows::Any => String::new(),
    };
    let names: Vec<String> = e
        .params
        .iter()
        .map(|p| match p {
            Param::Field { name, .. } => format!("the field {name}"),
            Param::Ref => "the ref".into(),
            Param::Version => "the version".into(),
            Param::Requester => "the requester".into(),
            Param::Approvers => "the approvers".into(),
            Param::DecidedAt => "the decision time".into(),
        })
        .collect();
    let given = if names.is_empty() {
        String::new()
    } else {
        format!("; it is given {} as bound values", names.join(", "))
    };
    let preview = if e.preview {
        ""
    } else {
        " No preview is shown on the card."
    };
    Some(format!("This statement runs {place}{rows}{given}.{preview}"))
}

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The workflow as a Markdown page for docs/workflows/<id>.md.
pub fn explain_markdown(wf: &Workflow, dir: &Directory) -> String {
    let f = facts(wf, dir);
    let mut out = format!("# {} (`{}`)\n\n", wf.title, wf.id);
    out.push_str(&format!(
        "> Generated by `countersign explain {} --format markdown` from the policy file. \
         Do not edit by hand: change the policy file and regenerate.\n\n",
        wf.id
    ));
    if !wf.description.trim().is_empty() {
        out.push_str(&format!("{}\n\n", wf.description.trim()));
    }
    out.push_str("| | |\n| --- | --- |\n");
    for (k, v) in [
        ("Reference", &f.reference),
        ("Owner", &f.owner),
        ("May request", &f.request),
        ("May view", &f.view),
        ("Policy", &f.policy),
    ] {
        out.push_str(&format!("| {k} | {} |\n", cell(v)));
    }
    // The label column only appears when some field has a label.
    let labels = f.fields.iter().any(|l| l.label.is_some());
    out.push_str("\n## Fields\n\n");
    if labels {
        out.push_str("| Field | Label | Type | Required | Limits |\n| --- | --- | --- | --- | --- |\n");
    } else {
        out.push_str("| Field | Type | Required | Limits |\n| --- | --- | --- | --- |\n");
    }
    for l in &f.fields {
        let req = if l.required { "yes" } else { "no" };
        let label = match (labels, &l.label) {
            (false, _) => String::new(),
            (true, label) => format!(" {} |", cell(label.as_deref().unwrap_or(""))),
        };
        out.push_str(&format!(
            "| `{}` |{label} {} | {req} | {} |\n",
            l.name,
            l.kind,
            cell(&l.limits)
        ));
    }
    out.push_str("\n## Rules\n\nRules are checked in order; the first that applies decides.\n\n");
    for (n, r) in f.rules.iter().enumerate() {
        out.push_str(&format!("{}. {r}\n", n + 1));
    }
    out.push_str("\n## Decisions\n\n");
    for d in &f.decisions {
        out.push_str(&format!("- {d}\n"));
    }
    out.push_str("\n## Lifecycle\n\n");
    for l in &f.lifecycle {
        out.push_str(&format!("- {l}\n"));
    }
    if let Some(e) = effect_phrase(wf) {
        let sql = wf.effect.as_ref().map_or("", |e| e.sql.trim());
        out.push_str(&format!("\n## When approved\n\n{e}\n\n```sql\n{sql}\n```\n"));
    }
    out
}
