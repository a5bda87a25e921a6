//! Money parsing and display, currencies, values as JSON, durations.

use std::time::Duration;

use crate::policy::{parse_duration, Currency, Money, MoneyError, Value};

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

fn money(text: &str, code: &str) -> Result<Money, MoneyError> {
    Money::parse(text, &Currency::parse(code).expect("currency"))
}

#[test]
fn plain_decimal_and_grouped_amounts_parse_to_the_same_minor_units() {
    for text in ["12500", "12500.00", "12,500.00", "12,500", " 12500.0 "] {
        assert_eq!(money(text, "EUR").map(|m| m.minor()), Ok(1_250_000), "{text}");
    }
}

#[test]
fn misplaced_commas_and_other_notations_are_not_numbers() {
    for text in [
        "1,2345", ",100", "1,,000", "1234,567", "12,50.00", "abc", "1e3", "", ".5", "12.", "1.2.3", "+5", "0x10",
    ] {
        assert_eq!(money(text, "EUR"), Err(MoneyError::NotANumber), "{text:?}");
    }
}

#[test]
fn negative_amounts_are_refused_as_negative() {
    assert_eq!(money("-1", "EUR"), Err(MoneyError::Negative));
    assert_eq!(money("-abc", "EUR"), Err(MoneyError::NotANumber));
    assert_eq!(Money::from_minor(-1, eur()), Err(MoneyError::Negative));
}

#[test]
fn more_decimals_than_the_currency_has_are_refused_not_rounded() {
    assert_eq!(money("12.345", "EUR"), Err(MoneyError::TooManyDecimals { allowed: 2 }));
    assert_eq!(money("100.5", "JPY"), Err(MoneyError::TooManyDecimals { allowed: 0 }));
    assert_eq!(money("1.2345", "KWD"), Err(MoneyError::TooManyDecimals { allowed: 3 }));
    let message = MoneyError::TooManyDecimals { allowed: 2 }.to_string();
    assert!(
        message.contains("at most 2 are allowed") && message.contains("never rounded"),
        "{message}"
    );
}

#[test]
fn amounts_too_large_for_the_store_are_refused() {
    assert_eq!(money("92233720368547758.08", "EUR"), Err(MoneyError::TooLarge));
    assert_eq!(money("92233720368547758.07", "EUR").map(|m| m.minor()), Ok(i64::MAX));
}

#[test]
fn money_displays_with_separators_exact_decimals_and_the_currency() {
    let show = |text: &str, code: &str| money(text, code).map(|m| m.to_string());
    assert_eq!(show("12500", "EUR"), Ok("12,500.00 EUR".to_owned()));
    assert_eq!(show("0.5", "EUR"), Ok("0.50 EUR".to_owned()));
    assert_eq!(show("1234567.891", "KWD"), Ok("1,234,567.891 KWD".to_owned()));
    assert_eq!(show("1000000", "JPY"), Ok("1,000,000 JPY".to_owned()));
    assert_eq!(show("999", "USD"), Ok("999.00 USD".to_owned()));
    assert_eq!(show("0", "EUR"), Ok("0.00 EUR".to_owned()));
}

#[test]
fn money_orders_within_a_currency_and_not_across() {
    let a = money("1.00", "EUR").expect("a");
    let b = money("2.00", "EUR").expect("b");
    let c = money("2.00", "USD").expect("c");
    assert!(a < b);
    assert_eq!(b.partial_cmp(&c), None);
    assert_ne!(b, c);
}

#[test]
fn unknown_currency_codes_are_refused() {
    assert!(Currency::parse("EUX").is_err());
    assert!(Currency::parse("eur").is_err(), "codes are written in capitals");
    assert_eq!(Currency::parse("JPY").map(|c| c.minor_units()), Ok(0));
    assert_eq!(eur().code(), "EUR");
}

#[test]
fn values_serialise_as_tagged_json_objects() {
    let cases = [
        (
            Value::Money(money("12500", "EUR").expect("m")),
            r#"{"money":{"minor":1250000,"currency":"EUR"}}"#,
        ),
        (Value::Text("ACME".into()), r#"{"text":"ACME"}"#),
        (Value::Integer(3), r#"{"integer":3}"#),
        (
            Value::Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 31).expect("date")),
            r#"{"date":"2026-01-31"}"#,
        ),
        (Value::Choice("ops".into()), r#"{"choice":"ops"}"#),
    ];
    for (value, json) in cases {
        assert_eq!(serde_json::to_string(&value).ok().as_deref(), Some(json));
        let back: Value = serde_json::from_str(json).expect("parse back");
        assert_eq!(back, value);
    }
    let negative = r#"{"money":{"minor":-5,"currency":"EUR"}}"#;
    assert!(
        serde_json::from_str::<Value>(negative).is_err(),
        "negative money is refused on the way in"
    );
    let unknown = r#"{"money":{"minor":5,"currency":"EUX"}}"#;
    assert!(
        serde_json::from_str::<Value>(unknown).is_err(),
        "unknown currencies are refused on the way in"
    );
}

#[test]
fn values_display_plainly() {
    assert_eq!(Value::Money(money("1.5", "EUR").expect("m")).to_string(), "1.50 EUR");
    assert_eq!(Value::Text("ACME GmbH".into()).to_string(), "ACME GmbH");
    assert_eq!(Value::Integer(-4).to_string(), "-4");
    let date = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).expect("date");
    assert_eq!(Value::Date(date).to_string(), "2026-01-05");
}

#[test]
fn durations_parse_in_days_hours_minutes_and_combinations() {
    assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
    assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
    assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    for bad in ["", "3", "h", "30x", "30m1h", "1h1h", "3 days", "-1h", "0m"] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn leading_zeros_do_not_count_against_the_size_of_an_amount() {
    let zeros = "0".repeat(40);
    assert_eq!(money(&format!("{zeros}12.50"), "EUR").map(|m| m.minor()), Ok(1250));
    assert_eq!(money("0", "JPY").map(|m| m.to_string()), Ok("0 JPY".to_owned()));
}

#[test]
fn far_too_many_digits_is_too_large_not_a_crash() {
    let huge = "9".repeat(40);
    assert_eq!(money(&huge, "EUR"), Err(MoneyError::TooLarge));
    assert_eq!(
        money(&format!("{huge}.5"), "JPY"),
        Err(MoneyError::TooManyDecimals { allowed: 0 })
    );
}

#[test]
fn the_largest_amount_keeps_every_digit_in_each_currency() {
    let shown = |code: &str| Money::from_minor(i64::MAX, Currency::parse(code).expect("known")).map(|m| m.to_string());
    assert_eq!(shown("JPY"), Ok("9,223,372,036,854,775,807 JPY".to_owned()));
    assert_eq!(shown("BHD"), Ok("9,223,372,036,854,775.807 BHD".to_owned()));
}
