//! `[effect]`: what loads (parameters typed as their fields, `::` casts, the request's own
//! values), and what `check` refuses, at the character that is wrong.

use super::{assert_one, loads, refusals, FLOW, PEOPLE};
use crate::policy::effect::{ExpectRows, Param, SqlType};

fn with_effect(effect: &str) -> String {
    format!("{FLOW}\n[fields.invoice]\ntype = \"text\"\nrequired = true\n\n[effect]\n{effect}")
}

/// Where `needle` is in `text`: 1-based line and column.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is not in the text"));
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
    (line, col)
}

#[test]
fn an_effect_loads_with_each_parameter_bound_as_its_field_is_typed() {
    let flow = with_effect(
        "target = \"erp\"\nsql = \"\"\"\nUPDATE invoices SET status = 'payable', approved_by = :approvers, approval_ref = :ref\n\
         WHERE number = :invoice AND total = :amount::numeric AND status = 'received'\n\"\"\"\nexpect_rows = 1\n",
    );
    let set = loads(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    let effect = set.workflows["flow"].effect.clone().expect("the effect is read");
    assert_eq!(effect.target.as_str(), "erp");
    assert_eq!(effect.target.env_var(), "COUNTERSIGN_TARGET_ERP");
    assert_eq!(effect.expect_rows, ExpectRows::Exactly(1));
    assert!(effect.preview);
    assert_eq!(
        effect.params,
        vec![
            Param::Approvers,
            Param::Ref,
            Param::Field {
                name: "invoice".into(),
                sql_type: SqlType::Text
            },
            Param::Field {
                name: "amount".into(),
                sql_type: SqlType::Numeric
            },
        ]
    );
    assert!(
        effect.positional.contains("total = $4::numeric"),
        "{}",
        effect.positional
    );
}

#[test]
fn an_unknown_parameter_is_refused_at_its_colon_with_the_names_it_could_be() {
    let flow =
        with_effect("target = \"erp\"\nsql = \"\"\"\nUPDATE invoices SET x = 1\nWHERE number = :invoce\n\"\"\"\n");
    let (line, col) = position(&flow, ":invoce");
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert_one(
        &errors,
        "flow.toml",
        line,
        col,
        "unknown parameter `:invoce`; the statement may use :amount, :invoice, :ref",
    );
}

#[test]
fn a_second_statement_is_refused_at_its_semicolon() {
    let flow = with_effect("target = \"erp\"\nsql = \"UPDATE invoices SET x = 1; DROP TABLE invoices\"\n");
    let (line, col) = position(&flow, "; DROP");
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert_one(&errors, "flow.toml", line, col, "only one statement may run");
}

#[test]
fn a_missing_target_a_bad_target_and_a_bad_row_count_are_each_refused() {
    let flow = with_effect("sql = \"UPDATE invoices SET x = 1\"\n");
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert!(errors.iter().any(|e| e.message.contains("`target`")), "{errors:#?}");
    let flow = with_effect("target = \"ERP!\"\nsql = \"UPDATE invoices SET x = 1\"\n");
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert!(
        errors.iter().any(|e| e.message.contains("must be lower-case letters")),
        "{errors:#?}"
    );
    let flow = with_effect("target = \"erp\"\nsql = \"UPDATE invoices SET x = 1\"\nexpect_rows = \"some\"\n");
    let (line, col) = position(&flow, "\"some\"");
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert_one(
        &errors,
        "flow.toml",
        line,
        col,
        "must be a number of rows (0 or more) or \"any\"",
    );
}

#[test]
fn any_row_count_and_no_preview_may_be_said() {
    let flow = with_effect(
        "target = \"countersign\"\nsql = \"SELECT nextval('s')\"\nexpect_rows = \"any\"\npreview = false\n",
    );
    let set = loads(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    let effect = set.workflows["flow"].effect.clone().unwrap();
    assert!(effect.target.is_own());
    assert_eq!(
        (effect.expect_rows, effect.expect_rows_written, effect.preview),
        (ExpectRows::Any, true, false)
    );
}

#[test]
fn explain_says_what_an_approval_runs_where_and_with_what() {
    let flow = with_effect(
        "target = \"erp\"\nsql = \"UPDATE invoices SET status = 'payable' WHERE number = :invoice\"\nexpect_rows = 1\n",
    );
    let set = loads(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    let text = crate::policy::explain_text(&set.workflows["flow"], &set.directory);
    assert!(
        text.contains(
            "When approved:\n- This statement runs once on the database `erp` (its URL in COUNTERSIGN_TARGET_ERP), \
             and must change exactly 1 row (any other count is rolled back); it is given the field invoice as bound values.\n  \
             UPDATE invoices SET status = 'payable' WHERE number = :invoice\n"
        ),
        "{text}"
    );
    let page = crate::policy::explain_markdown(&set.workflows["flow"], &set.directory);
    assert!(
        page.contains("## When approved\n\nThis statement runs once on the database `erp`"),
        "{page}"
    );
}
