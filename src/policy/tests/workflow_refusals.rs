//! What `PolicySet::load` refuses in workflow files, with positions. Line numbers refer to
//! the `FLOW` template in tests/mod.rs (rule `big` starts on line 14, `small` on line 19).

use super::{assert_at, assert_one, loads, refusals, FLOW, PEOPLE};

/// Loads FLOW with one edit applied and returns the problems.
fn refusals_of(from: &str, to: &str) -> Vec<crate::policy::CheckError> {
    assert!(FLOW.contains(from), "the template has no {from:?}");
    let flow = FLOW.replacen(from, to, 1);
    refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)])
}

#[test]
fn the_template_itself_loads() {
    let set = loads(&[("people.toml", PEOPLE), ("flow.toml", FLOW)]);
    let wf = set.workflow("flow").expect("flow");
    assert_eq!(wf.lifecycle.expires_after, std::time::Duration::from_secs(72 * 3600));
    assert_eq!(wf.lifecycle.remind_after, None);
    let view: Vec<&str> = wf.access.view.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        view,
        ["requester", "approver"],
        "view defaults to request plus approver roles"
    );
}

#[test]
fn a_last_rule_with_a_when_is_refused() {
    let errors = refusals_of("name = \"small\"\n", "name = \"small\"\nwhen = \"amount < 5\"\n");
    assert_one(
        &errors,
        "flow.toml",
        21,
        1,
        "the last rule (rule `small`) must not have a `when`",
    );
}

#[test]
fn a_rule_without_when_that_is_not_last_is_refused() {
    let errors = refusals_of("when = \"amount >= 100\"\n", "");
    assert_one(
        &errors,
        "flow.toml",
        14,
        1,
        "rule `big` has no `when` but is not the last rule",
    );
}

#[test]
fn an_expression_that_does_not_parse_points_at_the_bad_token() {
    let errors = refusals_of("amount >= 100", "amount => 100");
    assert_one(
        &errors,
        "flow.toml",
        16,
        16,
        "in `when`: `=` is not a comparison; write `==`",
    );
}

#[test]
fn a_money_literal_with_too_many_decimals_is_refused_at_the_literal() {
    let errors = refusals_of("amount >= 100", "amount >= 100.505");
    assert_one(
        &errors,
        "flow.toml",
        16,
        19,
        "`100.505` has more decimals than EUR allows (2)",
    );
}

#[test]
fn an_unknown_field_in_a_condition_is_refused() {
    let errors = refusals_of("amount >= 100", "amuont >= 100");
    assert_one(
        &errors,
        "flow.toml",
        16,
        9,
        "unknown field `amuont`; the fields are amount",
    );
}

#[test]
fn a_bare_field_is_not_a_condition() {
    let errors = refusals_of("amount >= 100", "amount");
    assert_one(
        &errors,
        "flow.toml",
        16,
        9,
        "amount is money, not a condition; compare it, e.g. amount >= 100",
    );
}

#[test]
fn an_unknown_role_in_approvals_is_refused() {
    let errors = refusals_of("role = \"approver\", count = 2", "role = \"approvr\", count = 2");
    assert_one(
        &errors,
        "flow.toml",
        17,
        23,
        "unknown role `approvr`: no person or service in people.toml holds it",
    );
}

#[test]
fn an_unknown_role_in_access_is_refused() {
    let errors = refusals_of("[\"requester\"]", "[\"requestor\"]");
    assert_one(&errors, "flow.toml", 12, 12, "unknown role `requestor`");
}

#[test]
fn an_unknown_owner_team_is_refused() {
    let errors = refusals_of("owner = \"ops\"", "owner = \"opz\"");
    assert_one(
        &errors,
        "flow.toml",
        4,
        9,
        "unknown owner team `opz`; people.toml defines: ops",
    );
}

#[test]
fn a_count_larger_than_the_role_holders_says_nobody_could_approve() {
    let errors = refusals_of("count = 2", "count = 3");
    assert_one(
        &errors,
        "flow.toml",
        17,
        43,
        "rule `big` needs 3 approvals from approver, but only 2 people hold that role (ben, cat): \
         nobody could ever approve it",
    );
}

#[test]
fn a_count_of_zero_is_refused() {
    let errors = refusals_of("count = 2", "count = 0");
    assert_one(&errors, "flow.toml", 17, 43, "`count` must be at least 1, not 0");
}

#[test]
fn a_rule_with_no_approvals_is_refused() {
    let errors = refusals_of("[{ role = \"approver\", count = 2 }]", "[]");
    assert_one(&errors, "flow.toml", 17, 13, "rule `big` has no approvals");
}

#[test]
fn groups_that_distinct_people_cannot_fill_together_are_refused() {
    let both = "[{ role = \"approver\", count = 2 }, { role = \"director\", count = 1 }]";
    let errors = refusals_of("[{ role = \"approver\", count = 2 }]", both);
    assert_one(
        &errors,
        "flow.toml",
        17,
        13,
        "rule `big` needs 3 approvals from different people",
    );
}

#[test]
fn duplicate_rule_names_are_refused() {
    let errors = refusals_of("name = \"small\"", "name = \"big\"");
    assert_one(&errors, "flow.toml", 20, 8, "rule `big` is defined twice");
}

#[test]
fn a_workflow_id_that_differs_from_its_file_stem_is_refused() {
    let errors = refusals(&[("people.toml", PEOPLE), ("other.toml", FLOW)]);
    assert_one(
        &errors,
        "other.toml",
        1,
        6,
        "id `flow` must equal the file's name: other.toml needs id = \"other\"",
    );
}

#[test]
fn a_prefix_used_twice_names_both_files() {
    let second = FLOW.replacen("id = \"flow\"", "id = \"flow2\"", 1);
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", FLOW), ("flow2.toml", &second)]);
    assert_one(
        &errors,
        "flow2.toml",
        3,
        10,
        "prefix `FL` is used by both flow.toml and flow2.toml",
    );
}

#[test]
fn a_money_field_without_a_valid_currency_is_refused() {
    let errors = refusals_of("currency = \"EUR\"", "currency = \"EUX\"");
    assert_at(
        &errors,
        "flow.toml",
        8,
        12,
        "`EUX` is not a known ISO 4217 currency code",
    );
    let errors = refusals_of("currency = \"EUR\"\n", "");
    assert_at(&errors, "flow.toml", 6, 1, "[fields.amount] is missing `currency`");
}

#[test]
fn a_min_above_max_is_refused() {
    let errors = refusals_of("required = true\n", "required = true\nmin = \"10\"\nmax = \"5.00\"\n");
    assert_one(
        &errors,
        "flow.toml",
        11,
        7,
        "`max` (5.00 EUR) is below `min` (10.00 EUR)",
    );
}

#[test]
fn a_money_limit_written_as_a_toml_decimal_is_refused() {
    let errors = refusals_of("required = true\n", "required = true\nmax = 5.5\n");
    assert_one(&errors, "flow.toml", 10, 7, "write money as a string so it stays exact");
}

#[test]
fn a_choice_without_options_is_refused() {
    let errors = refusals_of("[access]", "[fields.kind]\ntype = \"choice\"\noptions = []\n\n[access]");
    assert_one(&errors, "flow.toml", 13, 11, "`options` is empty");
}

#[test]
fn a_bad_duration_is_refused() {
    let flow = format!("{FLOW}\n[lifecycle]\nexpires_after = \"3 days\"\nremind_after = \"0h\"\n");
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_at(
        &errors,
        "flow.toml",
        24,
        17,
        "`expires_after`: `3 days` is not a duration; write e.g. 30m, 24h, 7d or 1h30m",
    );
    assert_at(&errors, "flow.toml", 25, 16, "`remind_after`: `0h` is zero");
}

#[test]
fn unknown_keys_everywhere_are_all_reported_with_their_table() {
    let flow = FLOW
        .replacen("owner = \"ops\"", "owner = \"ops\"\ncolour = \"red\"", 1)
        .replacen("required = true", "required = true\nmaximum = \"5\"", 1)
        .replacen("count = 1 }", "count = 1, cnt = 1 }", 1);
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_at(
        &errors,
        "flow.toml",
        5,
        1,
        "unknown key `colour` in the workflow; expected one of: id, title",
    );
    assert_at(
        &errors,
        "flow.toml",
        11,
        1,
        "unknown key `maximum` in [fields.amount]; expected one of: type",
    );
    assert_at(
        &errors,
        "flow.toml",
        23,
        46,
        "unknown key `cnt` in an approval group of rule `small`",
    );
}

#[test]
fn an_empty_workflow_file_lists_every_missing_key() {
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", "")]);
    for key in ["id", "title", "prefix", "owner", "fields", "access", "rule"] {
        assert_at(&errors, "flow.toml", 1, 1, &format!("the workflow is missing `{key}`"));
    }
    assert_eq!(errors.len(), 7, "{errors:#?}");
}

#[test]
fn access_without_request_is_refused() {
    let errors = refusals_of("request = [\"requester\"]\n", "view = [\"requester\"]\n");
    assert_one(&errors, "flow.toml", 11, 1, "[access] is missing `request`");
}

#[test]
fn problems_are_sorted_by_file_then_line() {
    let bad = FLOW
        .replacen("owner = \"ops\"", "owner = \"opz\"", 1)
        .replacen("count = 2", "count = 0", 1);
    let errors = refusals(&[
        ("people.toml", PEOPLE),
        (
            "b.toml",
            &bad.replacen("\"flow\"", "\"b\"", 1).replacen("\"FL\"", "\"BB\"", 1),
        ),
        (
            "a.toml",
            &bad.replacen("\"flow\"", "\"a\"", 1).replacen("\"FL\"", "\"AA\"", 1),
        ),
    ]);
    let order: Vec<(String, usize)> = errors
        .iter()
        .map(|e| {
            (
                e.file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                e.line,
            )
        })
        .collect();
    let expected = [("a.toml", 4), ("a.toml", 17), ("b.toml", 4), ("b.toml", 17)];
    let expected: Vec<(String, usize)> = expected.iter().map(|(f, l)| (f.to_string(), *l)).collect();
    assert_eq!(order, expected);
}
