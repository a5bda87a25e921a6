//! Round trips, for any input: an amount prints and parses back to itself in every currency,
//! with or without its thousands separators, and a decimal literal in a condition means the
//! amount it spells.

use crate::policy::{parse_expr, Currency, Expr, Literal, Money, Operand};
use proptest::prelude::*;

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![Just("EUR"), Just("JPY"), Just("BHD"), Just("USD")].prop_map(|c| Currency::parse(c).expect("known"))
}

proptest! {
    #[test]
    fn an_amount_prints_and_parses_back_to_itself(minor in 0i64..=i64::MAX, cur in currency()) {
        let m = Money::from_minor(minor, cur.clone()).expect("not negative");
        let shown = m.to_string();
        let number = shown.strip_suffix(&format!(" {}", cur.code())).expect("the code follows");
        prop_assert_eq!(Money::parse(number, &cur).expect("with separators"), m.clone());
        prop_assert_eq!(Money::parse(&number.replace(',', ""), &cur).expect("without"), m);
    }

    #[test]
    fn more_decimals_than_the_currency_has_are_refused_never_rounded(
        whole in 0u32..1_000_000, extra in "[0-9]{1,3}", cur in currency()
    ) {
        let decimals = "5".repeat(usize::from(cur.minor_units()) + 1);
        let text = format!("{whole}.{decimals}{extra}");
        prop_assert!(Money::parse(&text, &cur).is_err(), "{} was accepted", text);
    }

    #[test]
    fn a_decimal_literal_means_the_number_it_spells(whole in 0u64..1_000_000_000, frac in "[0-9]{0,4}") {
        let text = if frac.is_empty() { whole.to_string() } else { format!("{whole}.{frac}") };
        let expr = parse_expr(&format!("amount >= {text}")).expect("parses");
        let Expr::Compare { right, .. } = expr else { panic!("a comparison") };
        let shown = match right {
            Operand::Literal { value: Literal::Number(n), .. } => n.to_string(),
            other => panic!("a number, not {other:?}"),
        };
        prop_assert_eq!(shown, text);
    }
}
