//! The example commands/ directory: it loads, selects the intended rules, and explains itself.

use super::{commands_dir, examples};
use crate::policy::{describe_expr, explain_markdown, explain_text, parse_expr, PolicySet, Role, Workflow};

fn rule_for(wf: &Workflow, input: &[(&str, &str)]) -> String {
    let raw: Vec<(String, String)> = input.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let fields = wf.parse_fields(&raw).unwrap_or_else(|e| panic!("{input:?}: {e:#?}"));
    wf.select_rule(&fields).name.clone()
}

#[test]
fn the_example_commands_directory_loads_with_no_errors() {
    let set = PolicySet::load(&commands_dir());
    let set = set.unwrap_or_else(|errors| {
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("{}", shown.join("\n"))
    });
    let ids: Vec<&str> = set.workflows.keys().map(String::as_str).collect();
    assert_eq!(ids, ["invoice", "prod-access", "purchase-order"]);
    assert_eq!(set.directory.people.len(), 10);
    assert_eq!(set.directory.teams.len(), 3);
    for wf in set.workflows.values() {
        assert_eq!(wf.policy_hash.len(), 64);
        assert!(wf.rules.last().is_some_and(|r| r.when.is_none()));
    }
}

#[test]
fn workflows_are_found_by_id_and_by_prefix_in_any_case() {
    let set = examples();
    assert_eq!(set.workflow_by_prefix("inv").map(|w| w.id.as_str()), Some("invoice"));
    assert_eq!(
        set.workflow_by_prefix("ACC").map(|w| w.id.as_str()),
        Some("prod-access")
    );
    assert_eq!(
        set.workflow_by_prefix("Po").map(|w| w.id.as_str()),
        Some("purchase-order")
    );
    assert!(set.workflow_by_prefix("XYZ").is_none());
    assert!(set.workflow("nope").is_none());
}

#[test]
fn invoice_selects_large_from_ten_thousand_euros() {
    let set = examples();
    let wf = set.workflow("invoice").expect("invoice");
    assert_eq!(rule_for(wf, &[("amount", "10000.00"), ("vendor", "A")]), "large");
    assert_eq!(rule_for(wf, &[("amount", "9999.99"), ("vendor", "A")]), "standard");
    let roles = wf.approver_roles();
    let roles: Vec<&str> = roles.iter().map(Role::as_str).collect();
    assert_eq!(roles, ["finance-approver", "finance-director"]);
}

#[test]
fn prod_access_needs_two_security_approvers_for_production() {
    let set = examples();
    let wf = set.workflow("prod-access").expect("prod-access");
    let base = [("system", "db"), ("reason", "incident"), ("duration_hours", "2")];
    let with_env = |env: &'static str| {
        let mut input = base.to_vec();
        input.push(("environment", env));
        rule_for(wf, &input)
    };
    assert_eq!(with_env("production"), "production");
    assert_eq!(with_env("staging"), "staging");
    let production = &wf.rules[0];
    assert_eq!(
        (production.approvals[0].role.as_str(), production.approvals[0].count),
        ("security-approver", 2)
    );
}

#[test]
fn purchase_orders_select_capital_urgent_services_or_standard() {
    let set = examples();
    let wf = set.workflow("purchase-order").expect("purchase-order");
    let po = |amount: &str, category: &str, urgent: Option<&str>| {
        let mut input = vec![("amount", amount), ("category", category), ("supplier", "S")];
        if let Some(u) = urgent {
            input.push(("urgent", u));
        }
        rule_for(wf, &input)
    };
    assert_eq!(po("25000", "hardware", None), "capital");
    assert_eq!(po("24999.99", "software", None), "standard");
    assert_eq!(po("100000", "travel", None), "capital");
    assert_eq!(po("5000", "services", Some("yes")), "urgent-services");
    assert_eq!(po("5000.01", "services", Some("yes")), "standard");
    assert_eq!(po("100", "services", Some("no")), "standard");
    assert_eq!(
        po("100", "services", None),
        "standard",
        "an absent urgent is not urgent"
    );
}

#[test]
fn the_invoice_explanation_states_rules_in_plain_language() {
    let set = examples();
    let wf = set.workflow("invoice").expect("invoice");
    let text = explain_text(wf, &set.directory);
    for expected in [
        "Invoice payment (invoice)",
        "Owner: team finance-ops (Dave Director, Carol Approver)",
        "- amount \"Amount\": money in EUR, required, from 0.01 EUR to 250,000.00 EUR",
        "Rule `large` applies when amount is at least 10,000.00 EUR. It needs 1 approval from \
         finance-approver (Carol Approver, Heidi Approver) and 1 approval from finance-director \
         (Dave Director), each from a different person. The requester can never approve their \
         own request.",
        "Otherwise, rule `standard` applies.",
        "a reject needs a reason",
        "creates a new version and voids the votes",
        "A pending request expires after 72 hours.",
        "reminded after 24 hours",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(text, explain_text(wf, &set.directory), "the output is deterministic");
}

#[test]
fn the_markdown_explanation_is_a_generated_page() {
    let set = examples();
    let wf = set.workflow("prod-access").expect("prod-access");
    let md = explain_markdown(wf, &set.directory);
    assert!(
        md.starts_with(
            "# Production access (`prod-access`)\n\n> Generated by `countersign explain prod-access --format markdown`"
        ),
        "{md}"
    );
    assert!(md.contains("Do not edit by hand"));
    assert!(
        md.contains("2 approvals from security-approver (Erin Security, Ivan Security), each from a different person")
    );
    assert!(
        md.contains("| `duration_hours` | Access for (hours) | whole number | yes | from 1 to 72 |"),
        "{md}"
    );
    assert!(!md.contains("Money is exact"), "no money fields, no money sentence");
}

#[test]
fn conditions_are_described_with_typed_values() {
    let set = examples();
    let po = set.workflow("purchase-order").expect("purchase-order");
    let describe = |src: &str| describe_expr(&parse_expr(src).expect("parse"), po);
    assert_eq!(
        describe("category in ['hardware', 'software']"),
        "category is one of hardware, software"
    );
    assert_eq!(describe("not (amount > 5000)"), "amount is not more than 5,000.00 USD");
    assert_eq!(describe("100 <= amount"), "amount is at least 100.00 USD");
    assert_eq!(describe("needed_by < 2026-03-01"), "needed_by is before 2026-03-01");
    assert_eq!(
        describe("urgent == 'yes' and (amount < 10 or category != 'travel')"),
        "urgent is yes and (amount is less than 10.00 USD or category is not travel)"
    );
}
