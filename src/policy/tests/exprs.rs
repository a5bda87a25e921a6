//! The `when` language: parsing, precedence, type checking and evaluation.

use chrono::NaiveDate;

use crate::policy::{parse_expr, typecheck, Currency, Expr, FieldKind, FieldSpec, Fields, Money, Value};

fn spec(name: &str, kind: FieldKind) -> FieldSpec {
    FieldSpec {
        name: name.to_owned(),
        label: None,
        kind,
        required: false,
    }
}

/// amount (EUR), hours (integer), due (date), vendor (text), env (choice prod/staging).
fn specs() -> Vec<FieldSpec> {
    let eur = Currency::parse("EUR").expect("EUR");
    vec![
        spec(
            "amount",
            FieldKind::Money {
                currency: eur,
                min: None,
                max: None,
            },
        ),
        spec("hours", FieldKind::Integer { min: None, max: None }),
        spec("due", FieldKind::Date),
        spec("vendor", FieldKind::Text { max_length: None }),
        spec(
            "env",
            FieldKind::Choice {
                options: vec!["prod".into(), "staging".into()],
            },
        ),
    ]
}

fn eur(text: &str) -> Value {
    Value::Money(Money::parse(text, &Currency::parse("EUR").expect("EUR")).expect("money"))
}

fn fields(pairs: &[(&str, Value)]) -> Fields {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn checked(src: &str) -> Expr {
    let expr = parse_expr(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    typecheck(&expr, &specs()).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    expr
}

fn eval(src: &str, values: &Fields) -> bool {
    checked(src).eval(values)
}

/// The error (offset, message) for a condition that must not pass.
fn refused(src: &str) -> (usize, String) {
    match parse_expr(src).and_then(|e| typecheck(&e, &specs())) {
        Ok(()) => panic!("{src} was accepted"),
        Err(e) => (e.offset, e.message),
    }
}

#[test]
fn and_binds_tighter_than_or() {
    // `a or b and c` is `a or (b and c)`: true when only a holds.
    let only_a = fields(&[("hours", Value::Integer(1))]);
    assert!(eval("hours == 1 or hours == 2 and hours == 3", &only_a));
    assert!(!eval("(hours == 1 or hours == 2) and hours == 3", &only_a));
    let parsed = parse_expr("hours == 1 or hours == 2 and hours == 3").expect("parse");
    assert!(matches!(parsed, Expr::Or(_, ref right) if matches!(**right, Expr::And(..))));
}

#[test]
fn not_negates_what_follows_and_nests() {
    let v = fields(&[("hours", Value::Integer(5))]);
    assert!(eval("not hours > 8", &v));
    assert!(eval("not not hours == 5", &v));
    assert!(!eval("not (hours == 5 or hours == 6)", &v));
}

#[test]
fn money_compares_exactly_with_decimal_literals() {
    let v = fields(&[("amount", eur("10000.00"))]);
    assert!(eval("amount >= 10000", &v));
    assert!(eval("amount == 10000.0", &v));
    assert!(!eval("amount > 10000", &v));
    assert!(eval("amount < 10000.01", &v));
    assert!(eval("9999.99 < amount", &v), "a literal may stand on the left");
    assert!(eval("amount in [5, 10000]", &v));
}

#[test]
fn strings_compare_with_either_quote_and_in_lists() {
    let v = fields(&[
        ("env", Value::Choice("prod".into())),
        ("vendor", Value::Text("ACME".into())),
    ]);
    assert!(eval("env == \"prod\"", &v));
    assert!(eval("env == 'prod'", &v));
    assert!(eval("env != 'staging'", &v));
    assert!(eval("vendor in ['ACME', 'Initech']", &v));
    assert!(!eval("vendor == 'acme'", &v), "text comparison is exact");
}

#[test]
fn dates_are_bare_literals_that_order() {
    let day = NaiveDate::from_ymd_opt(2026, 1, 31).expect("date");
    let v = fields(&[("due", Value::Date(day))]);
    assert!(eval("due <= 2026-01-31", &v));
    assert!(eval("due > 2025-12-31", &v));
    assert!(!eval("due < 2026-01-31", &v));
    assert!(eval("due in [2026-01-31, 2026-02-28]", &v));
}

#[test]
fn a_comparison_touching_an_absent_field_is_false() {
    let none = Fields::new();
    assert!(!eval("hours > 1", &none));
    assert!(!eval("hours <= 1", &none));
    assert!(!eval("env in ['prod']", &none));
    assert!(eval("not (env == 'prod')", &none), "so its negation is true");
}

#[test]
fn syntax_errors_point_at_the_offending_token() {
    assert_eq!(
        refused("amount >= 100 and"),
        (
            17,
            "expected a field name, a number, a string or a date, found the end of the condition".to_owned()
        )
    );
    assert_eq!(refused("amount = 100").0, 7);
    assert_eq!(refused("(amount > 1").0, 11);
    assert_eq!(refused("env == 'prod").0, 7);
    assert_eq!(refused("amount > 1 hours > 2").0, 11);
    assert_eq!(refused("env in 'prod'").0, 7);
    assert_eq!(refused("amount > 1 && hours > 2").0, 11);
    assert_eq!(refused("due < 2026-02-30").1, "`2026-02-30` is not a valid date");
    assert_eq!(refused("amount > 1e3").0, 9);
    assert_eq!(refused("").1, "the condition is empty");
}

#[test]
fn a_bare_field_says_what_it_is_and_how_to_compare_it() {
    assert_eq!(
        refused("amount").1,
        "amount is money, not a condition; compare it, e.g. amount >= 100"
    );
    assert_eq!(refused("hours > 1 and env").0, 14);
    assert!(refused("env").1.starts_with("env is a choice, not a condition"));
}

#[test]
fn type_errors_name_the_problem_at_the_literal() {
    assert_eq!(
        refused("amount >= 100.505"),
        (10, "`100.505` has more decimals than EUR allows (2)".to_owned())
    );
    assert_eq!(refused("amount >= 'big'").0, 10);
    assert_eq!(
        refused("hours > 1.5").1,
        "hours is an integer, so `1.5` must be a whole number"
    );
    assert_eq!(refused("due > 5").0, 6);
    assert_eq!(
        refused("vendor < 'M'").1,
        "vendor is text; it can only be compared with == != or `in`"
    );
    assert_eq!(
        refused("env == 'dev'"),
        (7, "\"dev\" is not an option of env (prod, staging)".to_owned())
    );
    assert_eq!(refused("env in ['prod', 'dev']").0, 16);
    assert_eq!(
        refused("hours in [1, 'two']").1,
        "a list must hold one kind of value: numbers and strings are mixed"
    );
    assert_eq!(
        refused("1 < 2").1,
        "this compares two constants; one side must be a field"
    );
    assert_eq!(
        refused("amount > hours").1,
        "amount (money in EUR) cannot be compared with hours (integer)"
    );
    assert!(refused("nope == 1")
        .1
        .starts_with("unknown field `nope`; the fields are amount, hours"));
}

#[test]
fn fields_compare_with_fields_of_the_same_type() {
    let v = fields(&[
        ("env", Value::Choice("prod".into())),
        ("vendor", Value::Text("prod".into())),
    ]);
    assert!(eval("env == vendor", &v));
    assert!(eval("hours == hours", &fields(&[("hours", Value::Integer(2))])));
}

#[test]
fn a_long_flat_chain_is_refused_with_a_message_not_a_crash() {
    let chain = vec!["amount > 1"; 50_000].join(" or ");
    let err = parse_expr(&chain).expect_err("refused");
    assert!(err.message.contains("bytes long"), "{}", err.message);
    let terms = vec!["hours > 1"; 65].join(" and ");
    let err = parse_expr(&terms).expect_err("refused");
    assert!(err.message.contains("65 terms"), "{}", err.message);
    let fine = vec!["hours > 1"; 64].join(" and ");
    assert!(parse_expr(&fine).is_ok(), "64 terms are allowed");
}

#[test]
fn numbers_compare_exactly_where_a_float_would_not() {
    let max = fields(&[("hours", Value::Integer(i64::MAX))]);
    // Without the type check, which would refuse decimals for an integer field: evaluation
    // itself is exact, and an f64 could not tell these apart.
    let holds = |src: &str| parse_expr(src).expect("parses").eval(&max);
    assert!(holds("hours < 9223372036854775807.5"));
    assert!(holds("hours > 9223372036854775806.999999999"));
    assert!(holds("hours == 9223372036854775807.000"));
}

#[test]
fn a_number_with_too_many_digits_is_refused_with_the_limit() {
    let long = format!("1.{}", "0".repeat(28));
    let err = parse_expr(&format!("amount > {long}")).expect_err("refused");
    assert_eq!(err.offset, 9);
    assert_eq!(
        err.message,
        format!("`{long}` has too many digits: a number has at most 28")
    );
    assert!(
        parse_expr(&format!("amount > {}", "9".repeat(28))).is_ok(),
        "28 digits are fine"
    );
}
