//! Policy files: any text as a workflow file (beside the example people.toml), and any text as
//! people.toml, is loaded or refused with `file:line:col` problems, never a panic.
#![no_main]

use countersign::policy::PolicySet;
use libfuzzer_sys::fuzz_target;

const PEOPLE: &str = include_str!("../../commands/people.toml");

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PolicySet::from_texts(PEOPLE, &[("fuzzed.toml", text)]);
        let _ = PolicySet::from_texts(text, &[]);
    }
});
