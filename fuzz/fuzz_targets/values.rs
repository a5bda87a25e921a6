//! Money and dates as people type them: parsed exactly or refused with a message, and an
//! amount that parses prints back to the same value.
#![no_main]

use countersign::policy::{Currency, Money, PolicySet};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The example purchase-order workflow (it has a date field), loaded once.
fn policy() -> &'static PolicySet {
    static POLICY: OnceLock<PolicySet> = OnceLock::new();
    POLICY.get_or_init(|| {
        let people = include_str!("../../commands/people.toml");
        let po = include_str!("../../commands/purchase-order.toml");
        PolicySet::from_texts(people, &[("purchase-order.toml", po)]).expect("the example policy")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for code in ["EUR", "JPY", "BHD"] {
        let currency = Currency::parse(code).expect("a known currency");
        if let Ok(m) = Money::parse(text, &currency) {
            let shown = m.to_string();
            let digits = shown.trim_end_matches(code).trim().replace(',', "");
            let again = Money::parse(&digits, &currency).expect("a printed amount parses");
            assert_eq!(again, m, "{text:?} printed as {shown:?}");
        }
    }
    let wf = policy().workflow("purchase-order").expect("the example workflow");
    let raw = vec![
        ("amount".to_string(), "10".to_string()),
        ("category".to_string(), "travel".to_string()),
        ("supplier".to_string(), "Air".to_string()),
        ("needed_by".to_string(), text.to_string()),
    ];
    let _ = wf.parse_fields(&raw);
});
