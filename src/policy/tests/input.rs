//! `field=value` input: parse_fields, amend_fields and missing_required on the examples.

use super::examples;
use crate::policy::{FieldError, Fields, Value, Workflow};

fn raw(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The message reported for `field`, panicking when there is none.
fn message_for<'e>(errors: &'e [FieldError], field: &str) -> &'e str {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.as_str())
        .unwrap_or_else(|| panic!("no problem reported for {field}: {errors:#?}"))
}

fn with<T>(id: &str, f: impl FnOnce(&Workflow) -> T) -> T {
    let set = examples();
    let wf = set.workflow(id).unwrap_or_else(|| panic!("no workflow {id}"));
    f(wf)
}

#[test]
fn valid_input_becomes_typed_values() {
    with("invoice", |wf| {
        let fields = wf
            .parse_fields(&raw(&[
                ("amount", "12,500.00"),
                ("vendor", "ACME GmbH"),
                ("cost_center", "Ops"),
            ]))
            .expect("valid");
        assert_eq!(
            fields.get("amount").map(ToString::to_string).as_deref(),
            Some("12,500.00 EUR")
        );
        assert_eq!(fields.get("vendor"), Some(&Value::Text("ACME GmbH".into())));
        assert_eq!(
            fields.get("cost_center"),
            Some(&Value::Choice("ops".into())),
            "choices match case-insensitively"
        );
    });
}

#[test]
fn every_problem_with_invoice_input_is_reported_at_once() {
    with("invoice", |wf| {
        let long = "x".repeat(121);
        let errors = wf
            .parse_fields(&raw(&[
                ("amount", "12.345"),
                ("vendor", &long),
                ("cost_center", "marketing"),
                ("colour", "red"),
            ]))
            .expect_err("invalid");
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(message_for(&errors, "amount").contains("at most 2 are allowed"));
        assert_eq!(
            message_for(&errors, "vendor"),
            "is 121 characters long; at most 120 are allowed"
        );
        assert_eq!(
            message_for(&errors, "cost_center"),
            "`marketing` is not one of: ops, sales, research"
        );
        assert!(
            message_for(&errors, "colour").starts_with("unknown field; this workflow has: amount, vendor, cost_center")
        );
    });
}

#[test]
fn money_outside_its_limits_or_not_a_number_is_refused() {
    with("invoice", |wf| {
        let check = |amount: &str| {
            let errors = wf
                .parse_fields(&raw(&[("amount", amount), ("vendor", "A")]))
                .expect_err(amount);
            message_for(&errors, "amount").to_owned()
        };
        assert_eq!(check("0"), "0.00 EUR is below the minimum of 0.01 EUR");
        assert_eq!(
            check("250000.01"),
            "250,000.01 EUR is above the maximum of 250,000.00 EUR"
        );
        assert_eq!(check("-5"), "`-5` must not be negative");
        assert!(check("lots").starts_with("`lots` is not an amount of money"));
    });
}

#[test]
fn missing_required_fields_empty_values_and_repeats_are_reported() {
    with("invoice", |wf| {
        let errors = wf
            .parse_fields(&raw(&[("cost_center", ""), ("cost_center", "ops")]))
            .expect_err("invalid");
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert_eq!(
            errors[0],
            FieldError {
                field: "cost_center".into(),
                message: "is given twice".into()
            }
        );
        assert_eq!(errors[1].message, "is empty; give a value or leave the field out");
        assert_eq!(message_for(&errors, "amount"), "is required");
        assert_eq!(message_for(&errors, "vendor"), "is required");
        assert_eq!(errors[2].to_string(), "amount: is required");
    });
}

#[test]
fn integers_and_dates_are_checked() {
    with("prod-access", |wf| {
        let base = [("environment", "staging"), ("system", "db"), ("reason", "fix")];
        let hours = |h: &str| {
            let mut input = raw(&base);
            input.push(("duration_hours".into(), h.into()));
            wf.parse_fields(&input)
        };
        assert_eq!(
            hours("8").ok().and_then(|f| f.get("duration_hours").cloned()),
            Some(Value::Integer(8))
        );
        assert_eq!(
            message_for(&hours("73").expect_err("73"), "duration_hours"),
            "73 is above the maximum of 72"
        );
        assert_eq!(
            message_for(&hours("0").expect_err("0"), "duration_hours"),
            "0 is below the minimum of 1"
        );
        assert_eq!(
            message_for(&hours("two").expect_err("two"), "duration_hours"),
            "`two` is not a whole number"
        );
    });
    with("purchase-order", |wf| {
        let base = [("amount", "10"), ("category", "travel"), ("supplier", "Air")];
        for bad in [
            "2026-02-30",
            "31.01.2026",
            "2026-1-5",
            "-001-01-01",
            "0000-01-01",
            "+2026-1-01",
        ] {
            let mut input = raw(&base);
            input.push(("needed_by".into(), bad.into()));
            let errors = wf.parse_fields(&input).expect_err(bad);
            assert!(message_for(&errors, "needed_by").contains("write YYYY-MM-DD"), "{bad}");
        }
    });
}

#[test]
fn an_amendment_overrides_clears_optional_fields_and_keeps_required_ones() {
    with("invoice", |wf| {
        let current: Fields = wf
            .parse_fields(&raw(&[("amount", "100"), ("vendor", "ACME"), ("cost_center", "ops")]))
            .expect("valid");
        let amended = wf
            .amend_fields(&current, &raw(&[("amount", "150.50"), ("cost_center", "")]))
            .expect("valid");
        assert_eq!(
            amended.get("amount").map(ToString::to_string).as_deref(),
            Some("150.50 EUR")
        );
        assert_eq!(amended.get("vendor"), current.get("vendor"));
        assert_eq!(
            amended.get("cost_center"),
            None,
            "an empty value clears an optional field"
        );
        let errors = wf
            .amend_fields(&current, &raw(&[("vendor", ""), ("amount", "1.001"), ("po", "7")]))
            .expect_err("invalid");
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert_eq!(message_for(&errors, "vendor"), "is required and cannot be cleared");
        assert!(message_for(&errors, "po").starts_with("unknown field"));
    });
}

#[test]
fn missing_required_lists_what_a_form_must_ask_for() {
    with("invoice", |wf| {
        let names = |input: &[(&str, &str)]| -> Vec<String> {
            wf.missing_required(&raw(input))
                .iter()
                .map(|f| f.name.clone())
                .collect()
        };
        assert_eq!(names(&[]), ["amount", "vendor"]);
        assert_eq!(names(&[("amount", "5"), ("vendor", "")]), ["vendor"]);
        assert!(names(&[("amount", "5"), ("vendor", "A")]).is_empty());
    });
}
