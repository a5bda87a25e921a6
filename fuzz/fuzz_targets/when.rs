//! `when` conditions: any text parses (within the limits) or is refused with a message; a
//! parsed condition is type-checked against the invoice workflow's fields and explained in
//! words, without a panic or a stack overflow.
#![no_main]

use countersign::policy::{describe_expr, parse_expr, typecheck, PolicySet};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn policy() -> &'static PolicySet {
    static POLICY: OnceLock<PolicySet> = OnceLock::new();
    POLICY.get_or_init(|| {
        let people = include_str!("../../commands/people.toml");
        let invoice = include_str!("../../commands/invoice.toml");
        PolicySet::from_texts(people, &[("invoice.toml", invoice)]).expect("the example policy")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(expr) = parse_expr(text) {
            let wf = policy().workflow("invoice").expect("the invoice workflow");
            if typecheck(&expr, &wf.fields).is_ok() {
                let _ = describe_expr(&expr, wf);
            }
        }
    }
});
